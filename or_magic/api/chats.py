"""Conversations from Python: `or_magic.chat(name, ...)` and the `Chat` it returns.  The turns
themselves are the run layer's (run/conversation.py); sending them is a `complete()` call."""

from __future__ import annotations

from typing import Any, Sequence

from ..analysis.result import Result
from ..core.settings import Settings
from ..run.conversation import DEFAULT_NAME, SESSION, Conversation
from .calls import complete, load_conversation


class Chat:
    """A conversation from Python (`or_magic.chat(...)`): `send` a turn, read the `transcript`, `fork`."""

    def __init__(self, conversation: Conversation, model: str | Sequence[str] | None = None,
                 settings: Settings | None = None, **params: Any) -> None:
        self.conversation, self.model, self.settings, self.params = conversation, model, settings, params

    name = property(lambda self: self.conversation.name)
    transcript = property(lambda self: self.conversation.transcript(), doc="one row per message (a DataFrame)")

    def __repr__(self) -> str:
        return repr(self.conversation)

    def send(self, prompt: str, model: str | Sequence[str] | None = None, **params: Any) -> Result:
        """The next turn (or a sweep of candidates for it: `Result.keep(i)` appends one).  Takes
        `complete()`'s options; `system=` changes the system message from this turn on."""
        return complete(prompt, model or self.model, chat=self.name, settings=self.settings,
                        **{**self.params, **params})

    def fork(self, turn: int | None = None, name: str | None = None) -> "Chat":
        """A new conversation sharing turns 1..`turn` (all when None); this one is unchanged."""
        fresh = SESSION.put(self.conversation.fork(turn, name), rename=name is None)
        return Chat(fresh, self.model, self.settings, **self.params)

    def reset(self) -> None:
        """Empty the conversation (the history keeps every turn)."""
        self.conversation.reset()


def chat(name: str = DEFAULT_NAME, model: str | Sequence[str] | None = None, *, system: str | None = None,
         continue_from: int | None = None, settings: Settings | None = None, **params: Any) -> Chat:
    """The session's conversation `name` (made on first use), its later turns sent to `model`
    with `params`; `continue_from=RUN_ID` starts it from a recorded answer (any session)."""
    if continue_from is not None:
        SESSION.put(load_conversation(continue_from, name, settings or Settings()))
    conversation = SESSION.get(name)
    if system is not None:
        conversation.system = system or None
    return Chat(conversation, model, settings, **params)
