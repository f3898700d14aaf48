"""``python -m benchmarks``: see ``runner``."""

import sys

from .runner import main

sys.exit(main())
