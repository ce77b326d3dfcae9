"""Regenerate resources/names.txt, AdamLab's built-in corpus, from the US Census first-name lists.

The 1990 US Census lists of male and female first names are public domain. The ``names`` package on PyPI
(MIT licensed code) ships them as ``names/dist.male.first`` and ``names/dist.female.first``. This script
reads those two files from the package's source tarball and writes every distinct name, lowercased, one per
line, most frequent first (by the Census frequency column, male and female lists merged).

    pip download --no-deps names==0.3.0 -d /tmp/names     # gives /tmp/names/names-0.3.0.tar.gz
    python resources/make_names.py /tmp/names/names-0.3.0.tar.gz

Without an argument it runs that ``pip download`` itself into a temporary directory.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

MEMBERS = ("names/dist.male.first", "names/dist.female.first")
OUT = Path(__file__).resolve().parent / "names.txt"


def read_lists(tarball: Path) -> dict[str, float]:
    """name → largest Census frequency (percent) over the two lists."""
    freq: dict[str, float] = {}
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            if member.name.split("/", 1)[-1] in MEMBERS:
                for line in tar.extractfile(member).read().decode("ascii").splitlines():
                    fields = line.split()  # NAME  freq  cumulative-freq  rank
                    if len(fields) == 4 and fields[0].isalpha():
                        name = fields[0].lower()
                        freq[name] = max(freq.get(name, 0.0), float(fields[1]))
    if not freq:
        raise SystemExit(f"no name lists ({', '.join(MEMBERS)}) found in {tarball}")
    return freq


def main(argv: list[str]) -> int:
    if argv:
        tarball = Path(argv[0])
    else:
        tmp = Path(tempfile.mkdtemp())
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "names==0.3.0", "-d", str(tmp)],
                       check=True)
        tarball = next(tmp.glob("names-*.tar.gz"))
    freq = read_lists(tarball)
    names = sorted(freq, key=lambda n: (-freq[n], n))
    OUT.write_text("\n".join(names) + "\n", encoding="utf-8")
    print(f"wrote {len(names)} names to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
