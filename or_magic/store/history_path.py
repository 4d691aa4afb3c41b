"""Where the history database lives (`Settings.history_path`, else ``$OR_MAGIC_HOME/history.db``,
else the user's data directory), resolved before every run and so kept per environment."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core.settings import Settings

HOME_ENV = "OR_MAGIC_HOME"


def default_path() -> Path:
    """The database file used when no `history_path` is set."""
    env = os.environ
    # every variable the answer reads, Path.home()'s included (HOME; USERPROFILE on Windows)
    return _default_path(sys.platform, env.get(HOME_ENV), env.get("LOCALAPPDATA"), env.get("XDG_DATA_HOME"),
                         (env.get("HOME"), env.get("USERPROFILE")))


@functools.lru_cache(maxsize=8)  # asked before every run: the answer changes only with the environment
def _default_path(platform: str, home: str | None, local_app_data: str | None, xdg: str | None,
                  user_home: tuple[str | None, str | None]) -> Path:
    if home:
        return Path(home).expanduser() / "history.db"
    if platform == "win32":
        base = Path(local_app_data or Path.home() / "AppData" / "Local")
    elif platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(xdg or Path.home() / ".local" / "share")
    return base / "or_magic" / "history.db"


def resolve_path(settings: "Settings | None" = None) -> Path:
    configured = getattr(settings, "history_path", "") if settings is not None else ""
    return Path(configured).expanduser() if configured else default_path()
