"""The ``adamlab`` entry point.

``adamlab`` opens the window; ``adamlab --panel surface`` opens it on a panel; ``adamlab --screenshot
out.png`` renders it offscreen, saves a PNG and exits; ``adamlab train ...`` (and the other commands in
:mod:`adamlab.cli`) run headless without ever creating a window — or importing Qt, which is why the window
(:mod:`adamlab.ui.window`) is imported only inside ``main``. The dependency runs one way: entry point → window →
panels → widgets/workers → core; the panel registry (:mod:`adamlab.ui.panels`) is plain data both ends read.
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
        epilog="Headless commands: 'adamlab train --help' trains the tiny GPT from the command line.",
    )
    p.add_argument("--panel", choices=PANEL_KEYS, help="open on this panel")
    p.add_argument("--screenshot", metavar="PATH", help="render the window offscreen, save a PNG to PATH and exit")
    p.add_argument("--size", default="1280x800", metavar="WxH", help="window size for --screenshot (default 1280x800)")
    p.add_argument("--theme", choices=["light", "dark"], help="colour theme (default: the last one used)")
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
    if args.screenshot:
        # Render without a display; must be set before the QApplication exists.
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    qInstallMessageHandler(_message_handler)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("AdamLab")
    app.setOrganizationName("AdamLab")
    from adamlab.ui.window import MainWindow

    window = MainWindow(panel=args.panel, theme_name=args.theme, restore=not args.screenshot)
    # Everything built so far lives as long as the window: move it out of the garbage collector's way, so
    # full collections (~25 ms with Qt/pyqtgraph's object graph) stop interrupting drags and training.
    gc.collect()
    gc.freeze()
    if args.screenshot:
        return _screenshot(app, window, Path(args.screenshot), size)
    window.show()
    return app.exec()


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
    path.parent.mkdir(parents=True, exist_ok=True)
    ok = window.grab().save(str(path))
    window.close()
    app.processEvents()
    if not ok:
        print(f"adamlab: could not write the screenshot to {path}", file=sys.stderr)
        return 1
    print(f"saved {path}")
    return 0
