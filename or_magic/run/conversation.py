"""Conversations across cells: named chats whose turns follow the notebook.

A `Conversation` is the kernel session's transcript of one chat: an optional system message and
its turns (a user message and the answer to it).  What is sent for the next turn is exactly the
transcript before it: system first, then user/assistant alternating, then the new user message.

The notebook is the conversation: each turn remembers the cell that made it (its cell id in
Jupyter; none in a terminal, where every execution is a new turn).  A cell that already made
turn k makes turn k again: the turns after it are moved to an older branch (still in the history
database, never sent again) and the conversation goes on from turn k.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from ..core.errors import InvalidOption

if TYPE_CHECKING:
    import pandas as pd

    from .request import Run

DEFAULT_NAME = "default"
TRANSCRIPT_COLUMNS = ("turn", "role", "content", "model", "tokens", "cost", "run_id", "branch")


@dataclass(frozen=True)
class Turn:
    """One exchange: what the user sent and what came back, with the run that made it."""

    user: str
    answer: str
    model: str = ""
    run_id: int | None = None  # the history row of the answer; None if history is off
    cell: str | None = None  # the notebook cell that made it (its cell id), None outside Jupyter
    branch: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost: float | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, run: "Run", cell: str | None, branch: int) -> "Turn":
        done = run.completion
        return cls(user=run.spec.prompt, answer=run.text, model=run.spec.model, run_id=run.record_id,
                   cell=cell, branch=branch, params=dict(run.spec.params),
                   prompt_tokens=done.prompt_tokens if done else None,
                   completion_tokens=done.completion_tokens if done else None,
                   cost=done.cost if done else None)

    def messages(self) -> list[dict[str, str]]:
        return [{"role": "user", "content": self.user}, {"role": "assistant", "content": self.answer}]


@dataclass
class Slot:
    """Where the next turn of a conversation goes, and what it is sent with."""

    conversation: "Conversation"
    index: int  # 0-based position of the new turn
    cell: str | None
    context: list[Turn]  # the turns sent before it (after any dropped for the context length)
    branch: int
    system: str | None = None  # the system message of this turn on (--system changes it from here)
    dropped: int = 0

    @property
    def parent_run(self) -> int | None:
        before = self.conversation.turns[: self.index]
        return before[-1].run_id if before else self.conversation.origin_run

    def record_fields(self) -> dict[str, Any]:
        """What the history stores with each run of this turn."""
        return {"conversation": self.conversation.name, "turn": self.index + 1,
                "parent_run": self.parent_run, "branch": self.branch}

    def messages(self) -> list[dict[str, str]]:
        return [m for turn in self.context for m in turn.messages()]

    def keep(self, run: "Run") -> Turn:
        """Make `run` this slot's turn (the turns after the slot become an older branch)."""
        if not run.ok:
            raise InvalidOption(f"run {run.index} failed ({run.error}); keep a run that has an answer")
        turns = self.conversation.turns
        same = run.record_id is not None and self.index < len(turns) and turns[self.index].run_id == run.record_id
        if same:
            return turns[self.index]  # already this turn: keeping it again changes nothing
        return self.conversation.commit(self, Turn.of(run, self.cell, self.branch))


class Conversation:
    """One named chat of the session: a system message and the current branch's turns."""

    def __init__(self, name: str = DEFAULT_NAME, system: str | None = None,
                 turns: Sequence[Turn] = (), origin_run: int | None = None) -> None:
        self.name = name
        self.system = system
        self.turns: list[Turn] = list(turns)
        self.origin_run = origin_run  # the recorded run it was continued from, if any
        self.older: list[list[Turn]] = []  # branches left behind by re-run cells, newest last
        self.branch = max((t.branch for t in self.turns), default=0)
        self._branches = self.branch  # the highest branch number handed out

    def __repr__(self) -> str:
        return f"<or_magic.Conversation {self.name!r}: {len(self.turns)} turns, branch {self.branch}>"

    def __len__(self) -> int:
        return len(self.turns)

    def slot(self, cell: str | None = None, max_history: int | None = None) -> Slot:
        """The place of the next turn: the turn `cell` made before, else a new one at the end."""
        if max_history is not None and max_history < 0:
            raise InvalidOption(f"--max-history {max_history}: must be ≥ 0 (turns kept before the new one)")
        index = next((i for i, t in enumerate(self.turns) if cell is not None and t.cell == cell), len(self.turns))
        branch = self._branches + 1 if index < len(self.turns) else self.branch
        context = self.turns[:index]
        dropped = 0
        if max_history is not None and len(context) > max_history:
            dropped = len(context) - max_history
            context = context[dropped:]
        return Slot(self, index, cell, context, branch, self.system, dropped)

    def commit(self, slot: Slot, turn: Turn) -> Turn:
        if slot.index < len(self.turns):
            self.older.append(self.turns[slot.index:])
            self._branches = max(self._branches, slot.branch)
        self.branch, self.system = slot.branch, slot.system
        self.turns = self.turns[: slot.index] + [turn]
        return turn

    def messages(self, upto: int | None = None) -> list[dict[str, str]]:
        """The messages the transcript holds (system first, then user/assistant alternating)."""
        head = [{"role": "system", "content": self.system}] if self.system else []
        return head + [m for turn in self.turns[:upto] for m in turn.messages()]

    def fork(self, turn: int | None = None, name: str | None = None) -> "Conversation":
        """A new conversation sharing this one's turns 1..`turn` (all of them when None)."""
        upto = len(self.turns) if turn is None else int(turn)
        if not 0 <= upto <= len(self.turns):
            raise InvalidOption(f"fork({turn}): {self.name!r} has turns 1..{len(self.turns)}; fork(0) keeps none")
        return Conversation(name or f"{self.name}@{upto}", self.system, self.turns[:upto], self.origin_run)

    def reset(self) -> None:
        """Forget the turns (the history database keeps them); the next turn starts afresh."""
        if self.turns:
            self.older.append(self.turns)
        self.turns, self.system, self.origin_run = [], None, None

    def usage(self) -> tuple[int, float | None]:
        tokens = sum((t.prompt_tokens or 0) + (t.completion_tokens or 0) for t in self.turns)
        costs = [t.cost for t in self.turns if t.cost is not None]
        return tokens, (sum(costs) if costs else None)

    def transcript(self) -> "pd.DataFrame":
        """One row per message: turn, role, content, model, tokens, cost, run id, branch."""
        import pandas as pd

        rows: list[tuple[Any, ...]] = []
        if self.system:
            rows.append((0, "system", self.system, None, None, None, None, None))
        for number, t in enumerate(self.turns, 1):
            rows.append((number, "user", t.user, t.model, t.prompt_tokens, None, t.run_id, t.branch))
            rows.append((number, "assistant", t.answer, t.model, t.completion_tokens, t.cost, t.run_id, t.branch))
        frame = pd.DataFrame(rows, columns=list(TRANSCRIPT_COLUMNS))
        return frame.astype({"tokens": "Int64", "run_id": "Int64", "branch": "Int64"})


def estimate_tokens(messages: Sequence[dict[str, str]]) -> int:
    """A deliberately generous token count: a token per 3 UTF-8 bytes (English runs about 4
    characters a token; Chinese or Japanese about one a character, 3 bytes each), plus each
    message's framing.  Overestimating drops a turn early; underestimating would make the server
    refuse the request, so it leans high."""
    return sum(math.ceil(len((m.get("content") or "").encode("utf-8")) / 3) + 4 for m in messages)


def fit_context(slot: Slot, system: str | None, prompt: str, context_length: int | None,
                reserve: int = 0) -> None:
    """Drop the oldest turns of `slot.context` (never the system message) until the request fits
    `context_length` tokens with `reserve` left for the answer."""
    if not context_length:
        return
    fixed = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
    while slot.context and estimate_tokens(fixed + slot.messages()) + reserve > context_length:
        slot.context = slot.context[1:]
        slot.dropped += 1


def dropped_note(slot: Slot, why: str) -> str:
    kept = len(slot.context)
    head = "the system message and " if slot.system else ""
    return (f"conversation {slot.conversation.name!r}: dropped the oldest {slot.dropped} turn"
            f"{'s' if slot.dropped != 1 else ''} ({why}); sent {head}the last {kept} turn{'s' if kept != 1 else ''}")


class Registry:
    """The session's conversations by name (one per kernel: a module-level instance)."""

    def __init__(self) -> None:
        self.chats: dict[str, Conversation] = {}

    def get(self, name: str = DEFAULT_NAME) -> Conversation:
        name = name or DEFAULT_NAME
        found = self.chats.get(name)
        if found is None:
            found = self.chats[name] = Conversation(name)
        return found

    def put(self, conversation: Conversation, rename: bool = False) -> Conversation:
        """Add (or replace) a conversation; `rename`: never replace, add primes to a taken name."""
        while rename and conversation.name in self.chats:
            conversation.name += "'"
        self.chats[conversation.name] = conversation
        return conversation

    def frame(self) -> "pd.DataFrame":
        """The session's conversations: name, turns, tokens, cost, models, branch."""
        import pandas as pd

        rows = []
        for c in self.chats.values():
            tokens, cost = c.usage()
            models = ", ".join(dict.fromkeys(t.model for t in c.turns))
            rows.append((c.name, len(c.turns), tokens, cost, models, c.branch, bool(c.system)))
        return pd.DataFrame(rows, columns=["name", "turns", "tokens", "cost", "models", "branch", "system"])


SESSION = Registry()


def chats() -> "pd.DataFrame":
    """The session's conversations (`%openrouter chats`): name, turns, tokens, cost, models, branch."""
    return SESSION.frame()
