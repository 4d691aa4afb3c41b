"""One run's request (`RunSpec`: its endpoint and exact JSON body), what came of it (`Run`), and a
call's runs (`Plan`).

Options that were not given are left out of the body, so the provider's defaults apply (as
OpenRouter documents), and a recorded body shows exactly what the user asked for.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence, overload

from ..core.errors import InvalidOption, ORMagicError
from ..core.params import CHAT, COMPLETIONS, ENDPOINTS
from .prompt import chat_messages, completion_prompt

if TYPE_CHECKING:  # types only: the magic line is parsed (through grid.py) without loading the wire layer
    from ..wire.logprobs import TokenLogprobs
    from ..wire.response import Completion

_SENT = object()  # RunSpec's body memo after sent(): build it afresh each time
# The legacy completions endpoint takes `logprobs` as an int, capped at 5 by OpenAI.
LEGACY_LOGPROBS_MAX = 5


def asked_for_logprobs(params: Mapping[str, Any]) -> bool:
    """Whether these sampling params ask for logprobs (--top-logprobs implies --logprobs)."""
    return bool(params.get("logprobs")) or params.get("top_logprobs") is not None


def choose_endpoint(model: str, requested: str | None, completions_models: Iterable[str]) -> str:
    """`requested` when given, else completions for legacy text-completion models, else chat."""
    if requested:
        if requested not in ENDPOINTS:
            raise InvalidOption(f"--endpoint {requested!r}: must be one of {', '.join(ENDPOINTS)}")
        return requested
    return _default_endpoint(model.lower(), tuple(completions_models))


@functools.lru_cache(maxsize=256)  # asked for every run; fnmatch per pattern is the slow part
def _default_endpoint(name: str, completions_models: tuple[str, ...]) -> str:
    return COMPLETIONS if any(fnmatch.fnmatch(name, pat) for pat in completions_models) else CHAT


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines one request (one row of a result)."""

    model: str
    prompt: str
    endpoint: str = CHAT
    system: str | None = None
    params: dict[str, Any] = field(default_factory=dict)  # checked sampling params, wire names
    extra: dict[str, Any] = field(default_factory=dict)  # --param KEY=JSON body fields
    stream: bool = False
    sample: int = 0  # repeat index for -n/--samples
    variables: dict[str, Any] = field(default_factory=dict)  # template values for this run
    prefill: str | None = None  # a fork's prefix: appended to the prompt, or an assistant prefill (fork.py)
    # earlier turns of a conversation (user/assistant messages), sent between system and prompt
    context: tuple[dict[str, str], ...] = ()

    def body(self) -> dict[str, Any]:
        """The JSON body for this run's endpoint.  Sending, the history, the cache and the budget
        all read it, so it is built once per spec; treat it as read-only."""
        built = self.__dict__.get("_body")  # a frozen dataclass still has a __dict__ to memo in
        if built is None:
            built = self.__dict__["_body"] = self._build_body()
        elif built is _SENT:
            return self._build_body()
        return built

    def sent(self) -> None:
        """Forget the memoised body once it is sent and recorded (a sweep's 100,000 bodies would
        otherwise stay in memory); body() still builds it, the same, when asked, without keeping it."""
        self.__dict__["_body"] = _SENT  # the same key: the instance dict does not grow

    def fresh_body(self) -> dict[str, Any]:
        """The body built now and not kept: for a pass over every run of a plan before sending
        (a sweep's fingerprint), which would otherwise hold all of its bodies at once."""
        built = self.__dict__.get("_body")
        return built if isinstance(built, dict) else self._build_body()

    def sets(self, name: str) -> bool:
        """Whether the body has the field `name` (from the sampling params or --param), without
        building it."""
        return name in self.params or name in self.extra

    def _build_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model}
        if self.endpoint == COMPLETIONS:
            body["prompt"] = completion_prompt(self.prompt, self.system) + (self.prefill or "")
        else:
            body["messages"] = chat_messages(self.prompt, self.system, self.context)
            if self.prefill is not None:  # assistant prefill: the model continues this text
                body["messages"].append({"role": "assistant", "content": self.prefill})
        body.update(self._sampling())
        body.update(self.extra)
        if self.stream:
            body["stream"] = True
            # OpenAI, vLLM and llama.cpp send usage in a stream only when asked; OpenRouter always
            # sends it and ignores this field, so asking costs nothing there.
            body.setdefault("stream_options", {"include_usage": True})
        return body

    def _sampling(self) -> dict[str, Any]:
        sampling = dict(self.params)
        top = sampling.get("top_logprobs")
        if not asked_for_logprobs(sampling):
            sampling.pop("logprobs", None)
            return sampling
        if self.endpoint == COMPLETIONS:
            # Legacy servers read `logprobs: N` (≤ 5); OpenRouter may honour top_logprobs too,
            # so both are sent.  N = 0 would mean "no logprobs" to some servers, hence ≥ 1.
            sampling["logprobs"] = max(1, min(top or 1, LEGACY_LOGPROBS_MAX))
        else:
            sampling["logprobs"] = True
        return sampling


@dataclass
class Run:
    """One request and what came of it: a completion, or an error (never both lost)."""

    spec: RunSpec
    index: int = 0
    axes: dict[str, Any] = field(default_factory=dict)  # this run's values of the swept axes
    raw: dict[str, Any] | None = None
    completion: Completion | None = None
    error: ORMagicError | None = None
    latency: float | None = None
    started_at: float = field(default_factory=time.time)
    cached: bool = False
    record_id: int | None = None  # its row in the history database, once recorded
    chat: dict[str, Any] | None = None  # conversation, turn, parent_run, branch: for the history
    sweep_id: str | None = None  # the recorded sweep it belongs to (store/sweeps.py); with `index`, its identity

    def compact(self, text: str | None = None) -> None:
        """Hold the answer body as its JSON text (`text`, when the caller has it already) until
        `raw` is read: a sweep's finished runs are kept this way, a fifth of the parsed size."""
        raw = self.__dict__.get("_raw")
        if isinstance(raw, dict):
            self.__dict__["_raw"] = text if text is not None else json.dumps(raw, ensure_ascii=False, default=str)

    def release(self, source: Any) -> None:
        """Keep no answer body at all, only where it is stored: `source.response(record_id)` gives
        its JSON text back when `raw` is read (a sweep's runs, once committed to the history)."""
        if self.record_id and isinstance(self.__dict__.get("_raw"), (dict, str)):
            self.__dict__["_raw"] = source

    @property
    def ok(self) -> bool:
        return self.error is None and self.completion is not None

    @property
    def text(self) -> str:
        if self.completion is not None:
            return self.completion.text
        return self.error.partial if self.error is not None else ""

    @property
    def logprobs(self) -> TokenLogprobs | None:
        return self.completion.logprobs if self.completion else None

    @property
    def answered_model(self) -> str:
        """The model that answered: with --fallback-models (the body's `models`) the answer names it;
        otherwise the one asked for (an answer may name a dated variant, which would split groups)."""
        if "models" in self.spec.extra and self.completion is not None and self.completion.model:
            return self.completion.model
        return self.spec.model

    def key(self) -> dict[str, Any]:
        """The columns that identify this run in every table."""
        return {"model": self.spec.model, **self.axes}

    def field(self, name: str) -> Any:
        """A runs-table cell."""
        if name == "model":
            return self.answered_model
        if name == "text":
            return self.text
        if name == "latency":
            return self.latency
        if name == "error":
            return str(self.error) if self.error is not None else None
        return getattr(self.completion, name, None) if self.completion else None


def _get_raw(run: Run) -> dict[str, Any] | None:
    raw = run.__dict__.get("_raw")
    if raw is not None and not isinstance(raw, (dict, str)):  # released: read back from the history
        raw = run.__dict__["_raw"] = raw.response(run.record_id)
    if isinstance(raw, str):  # compacted: parsed again when read (and kept, so edits stick)
        raw = run.__dict__["_raw"] = json.loads(raw)
    return raw


def _set_raw(run: Run, raw: dict[str, Any] | None) -> None:
    run.__dict__["_raw"] = raw


# `raw` stays a dataclass field (Run(raw=...), repr, ==) read through a property (see compact()).
Run.raw = property(_get_raw, _set_raw, doc="The answer body, as the server sent it (scrubbed of the key).")  # type: ignore[assignment]


@dataclass(frozen=True)
class Usage:
    """Tokens and cost summed over runs: what every footer, bar and panel row shows."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None  # None: no run reported a cost
    counted: bool = False  # some completion_tokens were counted from a stream that sent no usage

    @classmethod
    def of(cls, runs: Iterable[Run]) -> "Usage":
        done = [r.completion for r in runs if r.completion is not None]
        costs = [c.cost for c in done if c.cost is not None]
        return cls(sum(c.prompt_tokens or 0 for c in done), sum(c.completion_tokens or 0 for c in done),
                   sum(costs) if costs else None, any(c.tokens_counted for c in done))

    def tokens_text(self) -> str:
        """`12+90 tokens`, marked when the completion count is the streamed one."""
        if self.counted:
            prompt = self.prompt_tokens or "?"
            return f"{prompt}+{self.completion_tokens} tokens (counted from the stream: no usage sent)"
        return f"{self.prompt_tokens}+{self.completion_tokens} tokens"


class LazyRuns(Sequence[Run]):
    """A plan's runs, each made from its grid position the first time it is read, then kept.

    Planning a grid costs nothing per run: a 1,000,000-run grid is planned without making one.
    `len()`, indexing (`Run.index` is the position), slices and iteration work as on a list.
    `build(i)` makes run i without keeping it (for plans built on other plans)."""

    def __init__(self, size: int, build: Callable[[int], Run]) -> None:
        self._size, self.build, self._made = size, build, {}  # type: ignore[var-annotated]

    def __len__(self) -> int:
        return self._size

    @overload
    def __getitem__(self, i: int) -> Run: ...
    @overload
    def __getitem__(self, i: slice) -> list[Run]: ...

    def __getitem__(self, i: int | slice) -> Run | list[Run]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._size))]
        position = i + self._size if i < 0 else i
        if not 0 <= position < self._size:
            raise IndexError(f"run {i} of a plan of {self._size}")
        run = self._made.get(position)
        if run is None:
            run = self._made[position] = self.build(position)
        return run

    def __iter__(self) -> Iterator[Run]:
        return (self[i] for i in range(self._size))

    @property
    def made(self) -> int:
        """How many runs exist so far."""
        return len(self._made)

    def __repr__(self) -> str:
        return f"<or_magic.LazyRuns {self.made} of {self._size} made>"


@dataclass
class Plan:
    """The runs a call will make, and which parameters vary between them."""

    runs: Sequence[Run] = field(default_factory=list)  # a list, or LazyRuns (planned grids)
    axes: list[str] = field(default_factory=list)
    schema: Any = None  # the resolved --schema (run/schema.py SchemaSpec) the answers are parsed by
    prompts: list[str] = field(default_factory=list)  # the prompt texts of the runs (filled templates)
    var_items: dict[str, Any] = field(default_factory=dict)  # each --vars axis's resolved items (grid.resolve_vars)
