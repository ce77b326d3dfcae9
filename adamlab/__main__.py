"""``python -m adamlab`` — the same as the ``adamlab`` command."""

import sys

from adamlab.app import main

if __name__ == "__main__":
    sys.exit(main())
