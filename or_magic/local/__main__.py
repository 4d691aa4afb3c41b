"""``python -m or_magic.local build|serve|path``."""

import sys

from .cli import main

sys.exit(main())
