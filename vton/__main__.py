"""``python -m vton``: the command line (see ``vton.cli``)."""

import sys

from .cli import main

sys.exit(main())
