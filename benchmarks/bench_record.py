"""What a recording costs per frame: grabbing on the GUI thread, encoding on the encoder's thread, GIF vs MP4.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_record.py [--runs 5] [--frames 60] [--size 640x400]

On the arena's default race (the README's film):
* grab: ``recorder.grab_rgb`` — ``QWidget.grab`` of the panel, the scale to the film's size and the copy into
  a NumPy array; the GUI thread's whole share of a frame besides drawing the frame's state;
* encode: the same real frames through the GIF encoder (Pillow: palette mapping per frame, then the file
  written at ``close``) and the MP4 encoder (H.264 through imageio-ffmpeg's ffmpeg, piped as they come),
  per frame including ``close``, timed in turns (GIF, MP4, GIF, …) so that the machine's drift hits both;
* end to end: ``record()`` of the race, wall clock per frame (the frame's state drawn, grabbed, queued;
  the encoder overlapping on its thread), and the file's size.
Medians of --runs runs; the core count and load average are printed alongside (the machine may be shared).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--size", default="640x400")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from adamlab.ui.record import encode
    from adamlab.ui.record.recorder import Settings, grab_rgb, record
    from adamlab.ui.window import MainWindow

    for fmt in encode.FORMATS:
        if encode.missing(fmt):
            print(encode.missing(fmt))
            return 1
    window = MainWindow(panel="surface", restore=False)
    window.resize(1280, 800)
    window.show()
    panel = window.current_panel()
    deadline = time.monotonic() + 30
    while not panel.is_idle() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    print(f"AdamLab recording, the arena's default race at {w}x{h} (panel {panel.width()}x{panel.height()}), "
          f"{args.frames} frames, {args.runs} runs; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")

    # the frames themselves: the race at n steps (grab timed per frame)
    T = panel.controls.steps()
    frames, grab_ms = [], []
    for i in range(args.frames):
        panel.show_step(round(i * T / (args.frames - 1)))
        t0 = time.perf_counter()
        frames.append(grab_rgb(panel, (w, h)))
        grab_ms.append((time.perf_counter() - t0) * 1e3)

    tmp = Path(tempfile.mkdtemp(prefix="bench-record-"))
    enc_ms = {fmt: [] for fmt in encode.FORMATS}
    sizes = {}
    for _ in range(args.runs):
        for fmt in encode.FORMATS:  # in turns
            path = tmp / f"race.{fmt}"
            t0 = time.perf_counter()
            enc = encode.open_encoder(path, (w, h), 15 if fmt == "gif" else 30)
            for f in frames:
                enc.write(f)
            enc.close()
            enc_ms[fmt].append((time.perf_counter() - t0) * 1e3 / len(frames))
            sizes[fmt] = path.stat().st_size

    e2e = {fmt: [] for fmt in encode.FORMATS}
    for _ in range(max(1, args.runs // 2)):
        for fmt in encode.FORMATS:
            fps = 15 if fmt == "gif" else 30
            t0 = time.perf_counter()
            record(panel, panel.animations()["race"], tmp / f"e2e.{fmt}", Settings((w, h), fps, args.frames / fps))
            e2e[fmt].append((time.perf_counter() - t0) * 1e3 / args.frames)

    med = statistics.median
    print(f"{'':24}{'median ms/frame':>16}{'range':>18}")
    print(f"{'grab (GUI thread)':24}{med(grab_ms):16.1f}{min(grab_ms):9.1f}–{max(grab_ms):.1f}")
    for fmt in encode.FORMATS:
        v = enc_ms[fmt]
        print(f"{'encode ' + fmt.upper() + ' (worker)':24}{med(v):16.1f}{min(v):9.1f}–{max(v):.1f}"
              f"   file {sizes[fmt] / 1e3:.0f} kB for {args.frames} frames")
    for fmt in encode.FORMATS:
        v = e2e[fmt]
        print(f"{'record() ' + fmt.upper() + ' end to end':24}{med(v):16.1f}{min(v):9.1f}–{max(v):.1f}"
              f"   ({args.frames} frames in {med(v) * args.frames / 1e3:.2f} s)")
    window.close()
    app.processEvents()
    for p in tmp.iterdir():
        p.unlink()
    tmp.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
