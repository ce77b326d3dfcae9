"""Encoders for recordings: frames in, a GIF (Pillow) or an MP4 (ffmpeg from imageio-ffmpeg's wheel) out.

No Qt here: an encoder takes RGB frames as NumPy arrays, shape (h, w, 3) uint8, one at a time, on whatever
thread calls it (the recorder's encoder thread). Both libraries are optional (``pip install 'adamlab[record]'``):
:func:`missing` says in one line what a format needs when it is not installed.

The output appears whole or not at all: frames go to a temporary file in the target's directory
(:func:`adamlab.core.files.atomic_path`), renamed over the target by ``close()``; ``abort()`` removes it, and
``cancel()`` (from another thread, say while Pillow writes a long GIF) makes ``close()`` remove it instead.

GIF: one palette for the whole film, taken from the first frame (a palette per frame makes flat areas
flicker), no dithering (dither noise differs from frame to frame and defeats GIF's frame differencing, which
Pillow does: each frame stores only the rectangle that changed). GIF delays are whole centiseconds and
browsers play delays under 2 cs at 10 cs, so fps is at most 50 and the delays alternate (3, 4, 3 cs at 30 fps)
to keep the film's length exact. Pillow writes a GIF in one go at the end, so the frames wait as palette
images, 1 byte a pixel (the cropped differences once Pillow has compared them).

MP4: H.264 (libx264), yuv420p so every player takes it (hence even width and height), CRF 20, moov atom at
the front (+faststart) so a browser starts playing before the download ends. Frames are piped to ffmpeg as
they come: nothing is held here.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import numpy as np

from adamlab.core.files import atomic_path

FORMATS = ("gif", "mp4")
INSTALL_HINT = "pip install 'adamlab[record]'"
GIF_MAX_FPS = 50  # GIF delays are in centiseconds and players slow down delays under 2 cs
MP4_CRF = 20  # x264's constant quality: 18 is visually lossless, 23 its default; plots have sharp lines


def missing(fmt: str) -> str | None:
    """None if ``fmt`` ('gif' or 'mp4') can be written here, else one line saying what to install."""
    if fmt == "gif":
        try:
            import PIL.Image  # noqa: F401
        except ImportError:
            return f"Recording a GIF needs Pillow: {INSTALL_HINT}"
        return None
    try:
        import imageio_ffmpeg

        imageio_ffmpeg.get_ffmpeg_exe()
    except ImportError:
        return f"Recording an MP4 needs imageio-ffmpeg: {INSTALL_HINT}"
    except RuntimeError as exc:  # the package is there but its ffmpeg binary is not (an unusual platform)
        return f"Recording an MP4 needs an ffmpeg binary ({exc}); {INSTALL_HINT} on a supported platform"
    return None


def format_of(path) -> str:
    """'gif' or 'mp4' from the file name's extension, else ValueError with one line."""
    ext = Path(path).suffix.lower().lstrip(".")
    if ext not in FORMATS:
        raise ValueError(f"the output must end in .gif or .mp4, got {Path(path).name!r}")
    return ext


def gif_delays_ms(n: int, fps: float) -> list[int]:
    """Per-frame delays in ms, whole centiseconds, whose running sum stays within 5 ms of i / fps."""
    edges = [round(i * 100 / fps) * 10 for i in range(n + 1)]
    return [max(b - a, 20) for a, b in zip(edges, edges[1:])]


class Encoder:
    """Base: ``write(frame)`` for each (h, w, 3) uint8 frame, then ``close()`` (-> the path) or ``abort()``."""

    def __init__(self, path, size: tuple[int, int], fps: float):
        self.path, self.size, self.fps = Path(path), size, fps
        self.frames = 0
        self._lock = threading.Lock()
        self._cancelled = self._published = False
        self._stack = contextlib.ExitStack()
        self.tmp = self._stack.enter_context(atomic_path(path, "recording"))

    def write(self, frame: np.ndarray) -> None:
        w, h = self.size
        if frame.shape != (h, w, 3) or frame.dtype != np.uint8:
            raise ValueError(f"frame must be ({h}, {w}, 3) uint8, got {frame.shape} {frame.dtype}")
        self._write(frame)
        self.frames += 1

    def close(self) -> Path:
        """Finish the file and put it in place (:class:`Cancelled` if ``cancel()`` came first)."""
        try:
            self._finish()
        except BaseException:
            self.abort()
            raise
        with self._lock:  # either cancel() sees the film in place, or the film is never put in place
            if self._cancelled:
                self.abort()
                raise Cancelled(f"{self.path.name}: cancelled")
            self._stack.close()  # os.replace(tmp, path)
            self._published = True
        return self.path

    def cancel(self) -> bool:
        """From any thread: make ``close()`` not put the file in place. False if it already has (too late)."""
        with self._lock:
            self._cancelled = not self._published
            return self._cancelled

    def abort(self) -> None:
        """Stop and remove the temporary file; the target is left as it was."""
        with contextlib.suppress(Exception):
            self._discard()
        with contextlib.suppress(_Abort):
            self._stack.__exit__(_Abort, _Abort(), None)

    def _write(self, frame: np.ndarray) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        raise NotImplementedError

    def _discard(self) -> None:
        pass


class Cancelled(Exception):
    """``close()`` after ``cancel()``: nothing was written."""


class _Abort(Exception):
    """Raised into the temporary file's context so that it removes the file."""


class GifEncoder(Encoder):
    def __init__(self, path, size, fps):
        if not 0 < fps <= GIF_MAX_FPS:
            raise ValueError(f"a GIF plays at most {GIF_MAX_FPS} frames a second, got {fps:g}")
        super().__init__(path, size, fps)
        self._palette = None  # a 'P' image whose palette every frame is mapped onto
        self._frames = []  # palette images, 1 byte a pixel

    def _write(self, frame):
        from PIL import Image

        im = Image.fromarray(frame, "RGB")
        if self._palette is None:
            self._palette = im.quantize(colors=255, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
            self._frames.append(self._palette)
        else:
            self._frames.append(im.quantize(palette=self._palette, dither=Image.Dither.NONE))

    def _finish(self):
        if not self._frames:
            raise ValueError("no frames were recorded")
        first, *rest = self._frames
        first.save(self.tmp, format="GIF", save_all=True, append_images=rest, loop=0,
                   duration=gif_delays_ms(len(self._frames), self.fps), optimize=True, disposal=1)
        self._frames = []

    def _discard(self):
        self._frames = []


class Mp4Encoder(Encoder):
    def __init__(self, path, size, fps):
        w, h = size
        if w % 2 or h % 2:
            raise ValueError(f"an MP4 (H.264, yuv420p) needs an even width and height, got {w}x{h}")
        super().__init__(path, size, fps)
        import imageio_ffmpeg

        try:
            self._gen = imageio_ffmpeg.write_frames(
                str(self.tmp), size, pix_fmt_in="rgb24", pix_fmt_out="yuv420p", fps=fps, codec="libx264",
                quality=None, macro_block_size=1, ffmpeg_log_level="error",
                output_params=["-crf", str(MP4_CRF), "-preset", "medium", "-movflags", "+faststart", "-f", "mp4"])
            self._gen.send(None)  # starts ffmpeg
        except BaseException:
            self.abort()
            raise

    def _write(self, frame):
        self._gen.send(np.ascontiguousarray(frame))

    def _finish(self):
        self._gen.close()  # ffmpeg gets EOF, writes the index and exits
        if self.frames == 0 or self.tmp.stat().st_size == 0:
            raise OSError("ffmpeg wrote nothing")

    def _discard(self):
        self._gen.close()


def open_encoder(path, size: tuple[int, int], fps: float) -> Encoder:
    """The encoder for ``path``'s extension (.gif or .mp4); ValueError/OSError with one line if it cannot."""
    fmt = format_of(path)
    problem = missing(fmt)
    if problem:
        raise ValueError(problem)
    return (GifEncoder if fmt == "gif" else Mp4Encoder)(path, size, fps)
