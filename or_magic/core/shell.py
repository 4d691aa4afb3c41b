"""Where or_magic is running: the IPython shell, if any, and whether it is a Jupyter kernel.

Asked without importing IPython: plain-Python users of `complete()` should not pay for it.
"""

from __future__ import annotations

import sys
from typing import Any


def current_shell() -> Any | None:
    """The running IPython shell, or None (plain Python, or IPython not loaded)."""
    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython is not None else None


def in_kernel(shell: Any | None = None) -> bool:
    """True inside a Jupyter kernel (rich output, widgets), False in a terminal or plain Python."""
    shell = current_shell() if shell is None else shell
    return getattr(shell, "kernel", None) is not None


def cell_number(shell: Any | None = None) -> int | None:
    """The `In[n]` of the cell now running, or None outside IPython or for a cell run without a
    number (`store_history=False`, as nbval and `run_cell(..., store_history=False)` do).

    IPython 9 increments `execution_count` just before it runs a numbered cell, earlier versions
    just after, so during a cell the count is n + 1 on 9 and n before it."""
    shell = current_shell() if shell is None else shell
    count = getattr(shell, "execution_count", None)
    if not isinstance(count, int) or not _numbered.get(id(shell), True):
        return None
    version = getattr(sys.modules.get("IPython"), "version_info", (0,))
    return count - 1 if version >= (9,) else count


_numbered: dict[int, bool] = {}  # id(shell) -> whether the running cell has an In[n]


def track_cells(shell: Any) -> None:
    """Note, before each cell, whether it gets a number (see cell_number); idempotent."""
    if id(shell) in _numbered:
        return
    _numbered[id(shell)] = True

    def before(info: Any) -> None:
        _numbered[id(shell)] = bool(getattr(info, "store_history", True))

    shell.events.register("pre_run_cell", before)
