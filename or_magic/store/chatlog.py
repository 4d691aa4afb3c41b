"""Conversations read back from the history: `--continue RUN_ID` (and `Chat.resume`) rebuilds a
conversation from any recorded chat answer, of this session or an earlier one.

The messages a run was sent are in its recorded request, and its answer is its text, so the
conversation that ends at that run is exact even for runs made before conversations existed.
The runs behind the earlier turns (their ids and models) come from the `parent_run` chain.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..core.errors import InvalidOption
from ..run.conversation import Conversation, Turn
from .runlog import COLUMNS, History, open_history, resolve_path

if TYPE_CHECKING:
    from ..core.settings import Settings

_MAX_CHAIN = 10_000  # a parent_run cycle cannot happen, but a broken database must not hang us


def _row(history: History, run_id: int) -> dict[str, Any] | None:
    rows = history.query("WHERE id = ?", (int(run_id),), 1)
    return dict(zip(COLUMNS, rows[0])) if rows else None


def load_conversation(run_id: int, name: str, settings: "Settings") -> Conversation:
    """The conversation `name` as it stood once run `run_id` had answered (its last turn)."""
    history = open_history(resolve_path(settings))
    row = _row(history, run_id)
    hint = "see %openrouter history (the id column) or or_magic.history()"
    if row is None:
        raise InvalidOption(f"--continue {run_id}: no run {run_id} in the history at {history.path}; {hint}")
    if row["error"] is not None or row["text"] is None:
        raise InvalidOption(f"--continue {run_id}: run {run_id} failed ({row['error']}); continue from a run "
                            f"that has an answer; {hint}")
    request = json.loads(row["request"] or "{}")
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidOption(f"--continue {run_id}: run {run_id} was a text completion, not a chat; "
                            "continue from a chat run")
    system = None
    if messages[0].get("role") == "system":
        system, messages = _text(messages[0]), messages[1:]
    pairs = [(_text(messages[i]), _text(messages[i + 1])) for i in range(0, len(messages) - 1, 2)]
    pairs.append((_text(messages[-1]), row["text"]))
    chain = _chain(history, row)
    turns = []
    for number, (user, answer) in enumerate(pairs):
        # the chain is newest first; align it with the last turns
        back = len(pairs) - 1 - number
        ran = chain[back] if back < len(chain) else None
        turns.append(Turn(user=user, answer=answer, model=(ran or {}).get("model") or "",
                          run_id=(ran or {}).get("id"), branch=0,
                          prompt_tokens=(ran or {}).get("prompt_tokens"),
                          completion_tokens=(ran or {}).get("completion_tokens"), cost=(ran or {}).get("cost")))
    return Conversation(name, system, turns, origin_run=int(run_id))


def _chain(history: History, row: dict[str, Any]) -> list[dict[str, Any]]:
    """This run and the runs of its earlier turns, newest first, as far as they were recorded."""
    chain = [row]
    while chain[-1].get("parent_run") is not None and len(chain) < _MAX_CHAIN:
        parent = _row(history, chain[-1]["parent_run"])
        if parent is None:
            break
        chain.append(parent)
    return chain


def _text(message: Any) -> str:
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):  # content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""
