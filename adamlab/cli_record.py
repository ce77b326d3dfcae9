"""``adamlab record``: film a panel's animation headless, as a GIF or an MP4, for slides and course pages.

    adamlab record --panel surface --out race.mp4                       # the arena's default race, 800x600, 4 s
    adamlab record --panel surface --scenario saddle.adamlab --out saddle.gif --size 640x400 --fps 15
    adamlab record --panel ema --animate beta2 --out beta2.mp4 --seconds 6
    adamlab record --panel surface --list                               # what each panel can animate
    adamlab record --run runs/exp1 --out exp1.gif                       # replay a run folder or a checkpoint

The window is built offscreen (QT_QPA_PLATFORM=offscreen unless the environment says otherwise: no window
flashes up on a desktop either), laid out so that the panel has the film's shape (scaled up when the panel
needs more room than the film has pixels), and recorded with :mod:`adamlab.ui.record` exactly as File ▸
Record… does. Exit status 0, 1 if the recording failed, 2 with one line on bad arguments.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

PROG = "adamlab record"
ANIMATIONS = {  # the keys each panel's animations() has (checked against the panel in the tests)
    "ema": ("beta1", "beta2"), "stepper": ("lines", "steps"), "surface": ("race", "drag"), "monitor": ("train", "replay")}


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _UsageError(message)


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must look like 800x600, got {text!r}") from None
    return w, h


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from adamlab.ui.panels import PANEL_KEYS

    p = _Parser(prog=PROG, description="Record a panel's animation as a GIF or an MP4, offscreen.")
    p.add_argument("--panel", choices=PANEL_KEYS, help="the panel to film (default: the one --scenario shows, "
                   "else surface)")
    p.add_argument("--animate", metavar="KEY", help="what to animate (default: the panel's first; see --list)")
    p.add_argument("--scenario", metavar="FILE|NAME", help="a scenario file (.adamlab) to load first, or the name "
                   "of a built-in one (race, zigzag, …: File ▸ Built-in scenarios)")
    p.add_argument("--run", metavar="PATH", help="a run folder (adamlab.watch) or a GPT checkpoint (.npz) to open "
                   "in the monitor first; the film is then its replay unless --animate says otherwise")
    p.add_argument("--out", metavar="FILE", help="the film: FILE.gif or FILE.mp4")
    p.add_argument("--size", type=_size, default=(800, 600), metavar="WxH", help="pixels (default 800x600)")
    p.add_argument("--fps", type=_number, default=None, help="frames a second (default 15 for GIF, 30 for MP4)")
    p.add_argument("--seconds", type=_number, default=4.0, help="length (default 4)")
    p.add_argument("--theme", choices=["light", "dark"], default="light")
    p.add_argument("--list", action="store_true", help="list what each panel can animate and exit")
    return p


def check_args(args) -> str:
    """Everything that can be checked before Qt starts; returns the format. _UsageError with one line."""
    from adamlab.core.files import check_target
    from adamlab.ui.record.encode import format_of, missing
    from adamlab.ui.record.recorder import Settings, check_settings

    if not args.out:
        raise _UsageError("--out FILE.gif or FILE.mp4 is required")
    try:
        fmt = format_of(args.out)
        check_target(args.out, "--out")
        if args.fps is None:
            args.fps = 15.0 if fmt == "gif" else 30.0
        check_settings(args.out, Settings(args.size, args.fps, args.seconds))
    except ValueError as exc:
        raise _UsageError(str(exc)) from None
    try:  # found out now, not after the frames are taken (os.access says yes to root, even on /proc)
        with tempfile.TemporaryFile(dir=Path(args.out).parent, prefix=".adamlab-probe-"):
            pass
    except OSError as exc:
        raise _UsageError(f"--out {args.out}: cannot write in {Path(args.out).parent} "
                          f"({exc.strerror or exc})") from None
    if args.run is not None:  # before --scenario: a scenario must not pick another panel for a --run film
        run = Path(args.run)
        if not run.exists():
            raise _UsageError(f"--run: {args.run} does not exist")
        inside = run if run.is_dir() else run.parent
        if not ((inside / "run.json").is_file() or (run.is_file() and run.suffix.lower() == ".npz")):
            raise _UsageError(f"--run: {args.run} is not a run folder (no run.json: adamlab.watch writes one) or "
                              "a checkpoint (.npz)")
        if args.panel not in (None, "monitor"):
            raise _UsageError(f"--run opens a run in the monitor, not in the {args.panel} panel")
        args.panel = "monitor"
        args.animate = args.animate or "replay"
    if args.scenario is not None:  # found and frame-checked before Qt starts (its fields once the panels exist)
        from adamlab.ui import scenarios

        try:
            args.scenario = scenarios.resolve(args.scenario)
            shown = scenarios.read(args.scenario).panel
        except scenarios.ScenarioError as exc:
            raise _UsageError(f"--scenario: {exc}") from None
        if args.run is not None and shown != "monitor":
            raise _UsageError(f"--scenario: {Path(str(args.scenario)).name} is a scenario for the {shown} panel; "
                              "--run films the monitor")
        if args.panel is None:
            args.panel = shown
    if args.panel is None:
        args.panel = "surface"
    if args.animate is not None:
        _check_animate(args.panel, args.animate, ANIMATIONS[args.panel])
    problem = missing(fmt)
    if problem:
        raise _UsageError(problem)
    return fmt


def _check_animate(panel: str, key: str, keys) -> None:
    if key not in keys:
        raise _UsageError(f"--animate: the {panel} panel animates {', '.join(keys)}; got {key!r}")


def layout_size(film: tuple[int, int], minimum: tuple[int, int]) -> tuple[int, int]:
    """The panel's size on screen: the film's shape, scaled up by the least factor that gives the panel its
    minimum size (a 640x400 film of an 830-px-wide panel is laid out at 830x519 and scaled down)."""
    (w, h), (mw, mh) = film, minimum
    k = max(1.0, mw / w, mh / h)
    return math.ceil(w * k), math.ceil(h * k)


def _wait_idle(app, panel, timeout: float = 30.0) -> bool:
    deadline, settle = time.monotonic() + timeout, time.monotonic() + 0.3
    while time.monotonic() < deadline:
        app.processEvents()
        if time.monotonic() > settle and panel.is_idle():
            return True
        time.sleep(0.01)
    return False


QUIET_S = 3.0  # a followed folder that grows no more for this long is filmed as far as it got


def _wait_read(app, panel, out, timeout: float = 60.0) -> bool:
    """Until the run just opened has been read to its end — its writer closed it, or a folder has not grown
    for QUIET_S (a script that stopped without close(), or one still running: filmed as far as it got, and
    said so) — or has failed."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        app.processEvents()
        run = panel.active_run()
        if run is None or (run.state not in ("starting", "running", "stopping") and panel.is_idle()):
            return True
        step = None if run.snap is None else run.snap.step
        if step != last:
            last, since = step, time.monotonic()
        elif run.external and run.state == "running" and not run.stopping and time.monotonic() - since > QUIET_S:
            print(f"{PROG}: {run.external} is not closed (its script still runs, or stopped without close()): "
                  f"filming it as far as it got, step {step}", file=out)
            panel.stop_run(run)
        time.sleep(0.01)
    return False


def record_command(args, out=None) -> int:
    out = out or sys.stdout
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from adamlab import app as app_mod

    problem = app_mod.display_problem()  # QT_QPA_PLATFORM=xcb without a display: Qt would abort
    if problem:
        print(f"{PROG}: error: {problem}", file=sys.stderr)
        return 1
    from PySide6.QtCore import qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    qInstallMessageHandler(app_mod._message_handler)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from adamlab.ui.record.recorder import Settings, record
    from adamlab.ui.window import MainWindow

    window = MainWindow(panel=args.panel or "surface", theme_name=args.theme, restore=False)
    try:
        if args.scenario is not None and not window.open_path(args.scenario):
            message = window.last_open_error or "not a scenario file AdamLab can open"
            print(f"{PROG}: error: --scenario: {message}", file=sys.stderr)
            return 2
        if args.panel is not None:
            window.show_panel(args.panel)  # else the panel the scenario showed
        panel = window.current_panel()
        if args.run is not None:
            if not window.open_path(args.run):
                print(f"{PROG}: error: --run: {window.last_open_error or 'could not open it'}", file=sys.stderr)
                return 2
            if not _wait_read(app, panel, out):
                print(f"{PROG}: error: --run: {args.run} could not be read within 60 s", file=sys.stderr)
                return 1
            if panel.active_run() is None or panel.active_run().snap is None:
                print(f"{PROG}: error: --run: {args.run} could not be read (see the monitor's message)",
                      file=sys.stderr)
                return 1
        animations = panel.animations()
        key = args.animate or next(iter(animations), None)
        try:
            if key is None:
                raise _UsageError(f"the {panel.key} panel has nothing to animate")
            _check_animate(panel.key, key, list(animations))
        except _UsageError as exc:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            return 2
        # the panel gets the film's shape; the window around it whatever the sidebar and bars need
        window.resize(1280, 800)
        window.show()
        app.processEvents()
        hint = panel.minimumSizeHint()
        pw, ph = layout_size(args.size, (hint.width(), hint.height()))
        window.resize(window.width() - panel.width() + pw, window.height() - panel.height() + ph)
        if not _wait_idle(app, panel):
            print(f"{PROG}: error: the {panel.key} panel did not settle within 30 s", file=sys.stderr)
            return 1
        settings = Settings(args.size, args.fps, args.seconds)
        t0 = time.perf_counter()
        try:
            path = record(panel, animations[key], args.out, settings)
        except (RuntimeError, OSError, ValueError) as exc:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            return 1
        w, h = settings.size
        print(f"saved {path} ({settings.frames} frames, {w}x{h}, {settings.fps:g} fps, "
              f"{Path(path).stat().st_size / 1e3:.0f} kB, recorded in {time.perf_counter() - t0:.1f} s)", file=out)
        return 0
    finally:
        window.close()
        app.processEvents()


def main(argv=None, out=None) -> int:
    out = out or sys.stdout
    try:
        args = build_parser().parse_args(argv)
        if args.list:
            for panel, keys in ANIMATIONS.items():
                print(f"{panel}: {', '.join(keys)}", file=out)
            return 0
        check_args(args)
    except _UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    return record_command(args, out)
