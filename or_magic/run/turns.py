"""Placing a call in its conversation: which conversation and turn, and which earlier turns fit.

Kept apart from conversation.py (the transcript itself) because it reads the outside world: the
history (to `--continue` from a recorded run) and the server's `/models` (context lengths).  Both
come in as callables, so this layer stays below the store and the client pool.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping, Sequence

from ..core.errors import ORMagicError
from .call import CallOptions
from .conversation import (
    DEFAULT_NAME,
    SESSION,
    Conversation,
    Slot,
    dropped_note,
    fit_context,
)
from .request import Run

Loader = Callable[[int, str], Conversation]  # (run id, name) → the conversation ending at that run
# model id → its /models entry: the catalogue wire/catalogue.py keeps per server (one request for the
# preflight, the budget and the context lengths alike)
Catalogue = Callable[[], Mapping[str, Any]]
_ANSWER_LIMITS = ("max_tokens", "max_completion_tokens")
# How OpenRouter, OpenAI, vLLM and llama.cpp word a request longer than the model's context.
_TOO_LONG = re.compile(r"context (length|size|window)|maximum context|too many tokens|prompt is too long", re.I)


def open_slot(prompt: str, options: CallOptions, default_model: str, *, load: Loader,
              catalogue: Catalogue) -> tuple[Slot | None, list[str]]:
    """Where this call goes in its conversation (None outside one), with the turns it is sent:
    the oldest are dropped, with a note, past `--max-history` or the model's context length."""
    if not options.in_conversation:
        return None, []
    name = options.chat or DEFAULT_NAME
    if options.continue_from is not None:
        conversation = SESSION.put(load(options.continue_from, name))
    else:
        conversation = SESSION.get(name)
    slot = conversation.slot(options.cell, options.max_history)
    if options.system is not None:
        slot.system = options.system or None  # --system '' removes it
    reasons = [f"--max-history {options.max_history}"] if slot.dropped else []
    if slot.context:
        limit = context_length(options.models or [default_model], catalogue)
        before = slot.dropped
        reserve = max([v for n in _ANSWER_LIMITS for v in options.params.get(n, []) if v] or [0])
        fit_context(slot, slot.system, prompt, limit, reserve)
        if slot.dropped > before:
            reasons.append(f"the model's context length is {limit} tokens")
    return slot, [dropped_note(slot, " and ".join(reasons))] if reasons else []


def context_length(model_ids: Sequence[str], catalogue: Catalogue) -> int | None:
    """The smallest context length the catalogue gives for these models (None: unknown)."""
    try:
        listed = catalogue()
    except ORMagicError:  # a server without /models: the turns are sent as they are
        return None
    lengths = [listed[m]["context_length"] for m in model_ids
               if isinstance(listed.get(m), dict) and isinstance(listed[m].get("context_length"), int)]
    return min(lengths) if lengths else None


def shorten_after_refusal(slot: Slot | None, run: Run) -> str | None:
    """After the server refused `run` as longer than the model's context (an HTTP 400 the token
    estimate did not foresee), drop a quarter of the earlier turns (at least one) and say so;
    None when there is nothing to drop or the failure was something else."""
    error = run.error
    if slot is None or not slot.context or error is None or getattr(error, "status", None) != 400 \
            or not _TOO_LONG.search(str(error)):
        return None
    fewer = max(1, len(slot.context) // 4)
    slot.context = slot.context[fewer:]
    slot.dropped += fewer
    return (f"the server found the request longer than the model's context (HTTP 400); sent again without the "
            f"oldest {fewer} turn{'s' if fewer != 1 else ''}")


def close_slot(slot: Slot | None, runs: Sequence[Run], notes: list[str]) -> None:
    """Append a single run's answer as the slot's turn; a sweep appends none (and says so), and an
    interrupted answer is kept out of the conversation (`Result.keep` can still append either)."""
    if slot is None:
        return
    if len(runs) > 1:
        notes.append(f"conversation {slot.conversation.name!r}: each of the {len(runs)} runs was sent the same "
                     f"{len(slot.context)} earlier turns and none was appended; r.keep(i) makes run i turn "
                     f"{slot.index + 1}")
    elif runs and runs[0].ok:
        if runs[0].completion.finish_reason == "cancelled":  # type: ignore[union-attr]
            notes.append("the interrupted answer was not appended to the conversation; r.keep(0) appends it")
        else:
            slot.keep(runs[0])
