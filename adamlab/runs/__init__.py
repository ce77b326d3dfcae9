"""Watching real PyTorch runs: ``watch`` (the hook on a torch optimizer) and the run folder it writes.

* :func:`watch` / :class:`Watcher` (:mod:`adamlab.runs.hook`) — per-tensor g, w, u and Adam's state from
  your own training loop; torch is imported only when watch() is called.
* :func:`open_run` / :class:`RunReader` (:mod:`adamlab.runs.reader`) — a run folder as NumPy arrays,
  followed incrementally while it is written.
* :mod:`adamlab.runs.format` — the documented on-disk format; :class:`RunFormatError` for bad folders.
* :mod:`adamlab.runs.report` — ``adamlab report RUN``.

No Qt and no torch at import time.
"""

from adamlab.runs.format import RunFormatError
from adamlab.runs.hook import Watcher, watch
from adamlab.runs.reader import Histogram, RunReader, RunUpdate, Sample, open_run

__all__ = ["watch", "Watcher", "open_run", "RunReader", "RunUpdate", "Histogram", "Sample", "RunFormatError"]
