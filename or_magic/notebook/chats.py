"""The notebook side of conversations: which cell is running (so a re-run replaces its turn), and
the `%openrouter chat [NAME] [--reset]` / `%openrouter chats` lines.

A cell is known by its cell id: JupyterLab, Notebook 7 and VS Code put `cellId` in the metadata
of each execute request, and ipykernel (≥ 6) keeps that request as the kernel's parent message.
Where there is none (terminal IPython, a plain kernel client, nbval), every execution is a new
turn, which is what a terminal user sees anyway.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from ..run.conversation import DEFAULT_NAME, SESSION, chats
from .lineparse import LineParser, split_line

if TYPE_CHECKING:
    import pandas as pd

CHAT_PROG = "%openrouter chat"


def cell_id(shell: Any) -> str | None:
    """The id of the notebook cell being executed, or None when the front end sends none."""
    kernel = getattr(shell, "kernel", None)
    get_parent = getattr(kernel, "get_parent", None)
    try:
        parent = get_parent("shell") if callable(get_parent) else getattr(shell, "parent_header", None)
    except Exception:  # an old or unusual kernel: no cell identity rather than a failed cell
        return None
    metadata = parent.get("metadata") if isinstance(parent, dict) else None
    found = metadata.get("cellId") if isinstance(metadata, dict) else None
    return str(found) if found else None


def panel_cell(shell: Any) -> str:
    """The cell identity a widgets panel's runs share: every panel run replaces the panel's one
    turn, even where the front end sends no cell id."""
    return cell_id(shell) or f"panel-{uuid.uuid4().hex[:12]}"


def chat_line(rest: str) -> "pd.DataFrame | None":
    """`%openrouter chat [NAME] [--reset]`: the transcript, or empty it (saying so)."""
    parser = LineParser(prog=CHAT_PROG, hint="use %openrouter chat [NAME] [--reset]")
    parser.add_argument("name", nargs="?", default=DEFAULT_NAME)
    parser.add_argument("--reset", action="store_true")
    ns = parser.parse_args(split_line(rest, CHAT_PROG))
    if ns.name not in SESSION.chats:
        known = ", ".join(SESSION.chats) or "none yet"
        print(f"conversation {ns.name!r} is already empty" if ns.reset else _empty(ns.name, known))
        return None
    conversation = SESSION.chats[ns.name]
    if ns.reset:
        turns = len(conversation.turns)
        conversation.reset()
        print(f"conversation {ns.name!r} emptied ({turns} turns; the history keeps them)")
        return None
    return conversation.transcript()


def _empty(name: str, known: str) -> str:
    return (f"conversation {name!r} has no turns in this session (session conversations: {known}); start it "
            f"with %%openrouter MODEL --chat {name}, or find a recorded one with %openrouter history --chat {name} "
            f"and resume it with --chat {name} --continue RUN_ID")


def chats_line() -> "pd.DataFrame":
    """`%openrouter chats`: the session's conversations."""
    return chats()
