"""Kept so ``python -m or_magic.localmodel build|serve|path`` and
``from or_magic.localmodel import local_server, is_built, build`` keep working: the local backend
lives in ``or_magic/local/``."""

import sys

from .local import *  # noqa: F401,F403
from .local import __all__  # noqa: F401
from .local.cli import main

if __name__ == "__main__":
    sys.exit(main())
