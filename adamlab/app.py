"""The ``adamlab`` entry point.

``adamlab`` opens the window; ``adamlab --panel surface`` opens it on a panel; ``adamlab race.adamlab`` opens a
scenario file (or a run folder, or a checkpoint) in it, and ``adamlab --scenario zigzag`` a built-in scenario;
``adamlab --screenshot out.png`` renders it offscreen, saves a PNG and exits; ``adamlab train ...`` (and the other
commands in :mod:`adamlab.cli`) run headless without ever creating a window — or importing Qt, which is why the
window (:mod:`adamlab.ui.window`) is imported only inside ``main``. The dependency runs one way: entry point →
window → panels → widgets/workers → core; the panel registry (:mod:`adamlab.ui.panels`) is plain data both ends
read.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path

from adamlab import __version__
from adamlab.ui.panels import PANEL_KEYS

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="adamlab",
        description="AdamLab — a desktop visual laboratory for the Adam optimizer. "
        "Without arguments, opens the window.",
        epilog="Headless commands: 'adamlab train --help' trains the tiny GPT from the command line; "
        "'adamlab record --help' films a panel's animation as a GIF or an MP4.",
    )
    p.add_argument("file", nargs="?", help="a scenario (.adamlab), a run folder or a GPT checkpoint (.npz) to open")
    p.add_argument("--panel", choices=PANEL_KEYS, help="open on this panel")
    p.add_argument("--scenario", metavar="NAME|FILE",
                   help="open a scenario: a .adamlab file, or a built-in one by name (e.g. race, zigzag, saddle)")
    p.add_argument("--screenshot", metavar="PATH", help="render the window offscreen, save a PNG to PATH and exit")
    p.add_argument("--size", default="1280x800", metavar="WxH", help="window size for --screenshot (default 1280x800)")
    p.add_argument("--theme", choices=["light", "dark"], help="colour theme (default: the last one used)")
    p.add_argument("--presentation", action=argparse.BooleanOptionalAction, default=None,
                   help="presentation mode: big text, thick lines, high contrast, for a projector "
                        "(default: as last used; F5 switches it in the window)")
    p.add_argument("--version", action="version", version=f"AdamLab {__version__}")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and not argv[0].startswith("-"):
        from adamlab import cli

        if argv[0] in cli.COMMANDS:
            return cli.main(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    size = _parse_size(parser, args.size)
    to_open = _file_to_open(args)
    if args.screenshot:
        from adamlab.core.files import check_target

        try:  # found out before the window is built, not after
            Path(args.screenshot).parent.mkdir(parents=True, exist_ok=True)
            check_target(args.screenshot, "--screenshot")
        except (OSError, ValueError) as exc:
            parser.error(str(exc))
        # Render without a display; must be set before the QApplication exists.
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    problem = display_problem()
    if problem:  # Qt would abort (exit 134) with a page about platform plugins; say what to do instead
        print(f"adamlab: {problem}", file=sys.stderr)
        return 1
    from PySide6.QtCore import qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    qInstallMessageHandler(_message_handler)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("AdamLab")
    app.setOrganizationName("AdamLab")
    from adamlab.ui.window import MainWindow

    window = MainWindow(panel=args.panel, theme_name=args.theme, restore=not args.screenshot,
                        presentation=args.presentation)
    # Everything built so far lives as long as the window: move it out of the garbage collector's way, so
    # full collections (~25 ms with Qt/pyqtgraph's object graph) stop interrupting drags and training.
    gc.collect()
    gc.freeze()
    if to_open is not None and not window.open_path(to_open):
        print(f"adamlab: {window.last_open_error}", file=sys.stderr)  # e.g. a field out of its range
        window.close()
        return 2
    if args.screenshot:
        return _screenshot(app, window, Path(args.screenshot), size)
    window.show()
    return app.exec()


def _file_to_open(args) -> Path | None:
    """The file named on the command line, with a scenario's frame checked before any window is built: one line
    and exit status 2 for a file that is missing, too big, not JSON, from a newer AdamLab…"""
    if args.file and args.scenario:
        _fail("give either a file or --scenario, not both")
    name = args.scenario or args.file
    if name is None:
        return None
    from adamlab.ui import scenarios  # Qt-free

    p = Path(name)
    bare = not p.exists() and not p.suffix and len(p.parts) == 1  # "race": a built-in scenario's name
    try:
        if args.scenario or scenarios.is_scenario_path(p) or bare:
            path = scenarios.resolve(name)
            scenarios.read(path)
            return path
    except scenarios.ScenarioError as exc:
        _fail(str(exc))
    if not p.exists():
        _fail(f"{name}: no such file or folder")
    return p


def _fail(message: str) -> None:
    print(f"adamlab: {message}", file=sys.stderr)
    raise SystemExit(2)


def display_problem(env=None) -> str | None:
    """Why Qt could not open a window here (it would abort), in one line, or None. Linux only: Qt 6.5+ needs
    libxcb-cursor0 for X11 windows, and a display to connect to."""
    env = os.environ if env is None else env
    platform = env.get("QT_QPA_PLATFORM", "")
    if not sys.platform.startswith("linux") or platform not in ("", "xcb"):
        return None
    if platform == "" and env.get("WAYLAND_DISPLAY"):
        return None  # Qt takes Wayland
    if not env.get("DISPLAY"):
        return ("no display to open a window on (DISPLAY is not set). Run it on a desktop, or render offscreen: "
                "adamlab --screenshot out.png")
    import ctypes.util

    if ctypes.util.find_library("xcb-cursor") is None:
        return ("Qt needs the system library libxcb-cursor0 to open a window on X11: install it (Debian/Ubuntu: "
                "sudo apt install libxcb-cursor0; Fedora: sudo dnf install xcb-util-cursor), then run adamlab again")
    if not _x11_reachable(env["DISPLAY"]):
        return (f"cannot connect to the X display {env['DISPLAY']!r} (is it running, and may this user use it?). "
                "Run it on a desktop, or render offscreen: adamlab --screenshot out.png")
    return None


def _x11_reachable(display: str) -> bool:
    """Whether libxcb can connect to ``display`` (Qt aborts when it cannot). True if that cannot be tested."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("xcb")
    if name is None:
        return True  # Qt will say what is missing
    try:
        xcb = ctypes.CDLL(name)
        xcb.xcb_connect.restype = ctypes.c_void_p
        xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
        xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
        xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
        conn = xcb.xcb_connect(display.encode(), None)
        try:
            return xcb.xcb_connection_has_error(conn) == 0
        finally:
            xcb.xcb_disconnect(conn)
    except (OSError, AttributeError):
        return True


# Qt messages that say nothing to a user: the offscreen platform (screenshots, CI) lacks a window manager.
_QUIET = ("This plugin does not support propagateSizeHints",)


def _message_handler(mode, context, message: str) -> None:
    if not message.startswith(_QUIET):
        print(message, file=sys.stderr)


def _parse_size(parser: argparse.ArgumentParser, text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
        if w < 320 or h < 240:
            raise ValueError
    except ValueError:
        parser.error(f"--size must look like 1280x800 (at least 320x240), got {text!r}")
    return w, h


def _screenshot(app, window, path: Path, size: tuple[int, int], timeout: float = 20.0) -> int:
    """Show the window offscreen, wait until the visible panel is idle, save a PNG, close cleanly."""
    window.resize(*size)
    window.show()
    deadline = time.monotonic() + timeout
    settle = time.monotonic() + 0.5  # let timers fire and layouts settle at least briefly
    while time.monotonic() < deadline:
        app.processEvents()
        if time.monotonic() > settle and window.current_panel().is_idle():
            break
        time.sleep(0.01)
    for _ in range(5):
        app.processEvents()
    from adamlab.core.files import write_bytes
    from adamlab.ui.widgets.plots import image_bytes

    try:
        data = image_bytes(window.grab().toImage(), "PNG")
    finally:
        window.close()
        app.processEvents()
    try:
        write_bytes(path, data, "--screenshot")  # whole or not at all; never onto a FIFO, device or link
    except (OSError, ValueError) as exc:
        print(f"adamlab: could not write the screenshot to {path}: {exc}", file=sys.stderr)
        return 1
    print(f"saved {path}")
    return 0
