"""Assembling a streamed completion into the body a non-streamed request would have returned.

Chunks come from `/chat/completions` (`choices[].delta`) or the legacy `/completions`
(`choices[].text`), with per-chunk logprobs in either wire format, and usage once at the end
in either shape seen in the wild (`choices: []`, or one choice with an empty delta and a null
finish_reason sent after the finish chunk: a null never overwrites a real finish reason).
`StreamAssembler.body()` is shaped like the non-streamed JSON, so `Completion.from_response`,
the logprob parser and the tables need no streaming case of their own.  Pure: no I/O.
"""

from __future__ import annotations

from typing import Any, Callable

from ..core.coerce import valid_unicode

CANCELLED = "cancelled"  # finish_reason of a stream the user interrupted
STREAMED_TOKENS = "or_magic_streamed_tokens"  # body key: tokens counted when no usage was sent
_HEAD_FIELDS = ("id", "provider", "model", "created", "system_fingerprint")
_LEGACY_LISTS = ("tokens", "token_logprobs", "top_logprobs", "text_offset")

TextHook = Callable[[str], None]  # receives each new piece of a streamed run's text


class StreamCancelled(KeyboardInterrupt):
    """The user interrupted a stream; `body` holds what had arrived (finish_reason "cancelled").

    A KeyboardInterrupt still, so code that does not know about streams stops as usual.
    """

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__("stream interrupted")
        self.body = body


class _Choice:
    """What one choice index has accumulated so far."""

    __slots__ = ("pieces", "legacy", "finish_reason", "native_finish_reason", "role", "reasoning",
                 "tool_calls", "chat_logprobs", "legacy_logprobs", "error", "chunks")

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.legacy = False  # saw `text` (legacy /completions) rather than `delta`
        self.finish_reason: str | None = None
        self.native_finish_reason: str | None = None
        self.role = "assistant"
        self.reasoning: list[str] = []
        self.tool_calls: dict[int, dict[str, Any]] = {}
        self.chat_logprobs: list[Any] | None = None
        self.legacy_logprobs: dict[str, list[Any]] | None = None
        self.error: Any = None
        self.chunks = 0  # chunks that carried text: one token each on OpenRouter and llama.cpp


def _token_count(state: _Choice) -> int:
    """Tokens received: exact from the logprobs when they came, else the text-carrying chunks."""
    if state.chat_logprobs:
        return len(state.chat_logprobs)
    if state.legacy_logprobs and state.legacy_logprobs["tokens"]:
        return len(state.legacy_logprobs["tokens"])
    return state.chunks


class StreamAssembler:
    """Merge chunk dicts one by one; `add` returns the new text of the first choice."""

    def __init__(self) -> None:
        self.head: dict[str, Any] = {}
        self.usage: dict[str, Any] | None = None
        self.error: dict[str, Any] | None = None
        self.error_finish = False  # some choice finished with "error"
        self._choices: dict[int, _Choice] = {}
        self._held = ""  # a high surrogate whose pair is still to come (an emoji split over chunks)

    @property
    def text(self) -> str:
        """The first choice's text so far (kept as the partial text when a stream fails)."""
        first = self._choices.get(min(self._choices)) if self._choices else None
        return valid_unicode("".join(first.pieces)) if first else ""

    @property
    def finished(self) -> bool:
        return any(c.finish_reason for c in self._choices.values())

    def add(self, chunk: dict[str, Any]) -> str:
        """Merge one parsed chunk; returns the text it added to the first choice ("" if none)."""
        if len(self.head) < len(_HEAD_FIELDS):
            for name in _HEAD_FIELDS:
                if name not in self.head and chunk.get(name) is not None:
                    self.head[name] = chunk[name]
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.usage = usage
        if isinstance(chunk.get("error"), dict):
            self.error = chunk["error"]
        new_text = ""
        for position, choice in enumerate(chunk.get("choices") or ()):
            if isinstance(choice, dict):
                piece = self._add_choice(choice, position)
                if position == 0 and piece:
                    new_text = piece
        return self._showable(new_text) if new_text or self._held else ""

    def _showable(self, piece: str) -> str:
        """A piece that can be displayed: a surrogate pair split over chunks is joined first."""
        piece, self._held = self._held + piece, ""
        if piece and "\ud800" <= piece[-1] <= "\udbff":
            piece, self._held = piece[:-1], piece[-1]
        return valid_unicode(piece)

    def _add_choice(self, choice: dict[str, Any], position: int) -> str:
        index = _index(choice.get("index"), position)
        state = self._choices.get(index)
        if state is None:
            state = self._choices[index] = _Choice()
        piece = choice.get("text")
        if isinstance(piece, str):
            state.legacy = True
        else:
            piece = _merge_delta(state, choice.get("delta"))
        if piece:
            state.pieces.append(piece)
            state.chunks += 1
        if choice.get("finish_reason") is not None:
            state.finish_reason = choice["finish_reason"]
            self.error_finish = self.error_finish or state.finish_reason == "error"
            state.native_finish_reason = choice.get("native_finish_reason", state.native_finish_reason)
        if choice.get("error") is not None:
            state.error = choice["error"]
        logprobs = choice.get("logprobs")
        if isinstance(logprobs, dict):
            _merge_logprobs(state, logprobs)
        return piece or ""

    def cancel(self) -> None:
        """Mark every unfinished choice as cancelled by the user."""
        for state in self._choices.values() or [self._choice0()]:
            if not state.finish_reason:
                state.finish_reason = CANCELLED

    def _choice0(self) -> _Choice:
        return self._choices.setdefault(0, _Choice())

    def body(self) -> dict[str, Any]:
        """The assembled response, shaped like the non-streamed JSON body."""
        legacy = any(s.legacy for s in self._choices.values())
        body: dict[str, Any] = {**self.head, "object": "text_completion" if legacy else "chat.completion",
                                "choices": [_choice_body(i, s) for i, s in sorted(self._choices.items())]}
        if self.usage is not None:
            body["usage"] = self.usage
        elif self._choices:
            # No usage arrived (an interrupted stream, or a server that sends none): keep how many
            # tokens did arrive, so the footer does not say "0+0 tokens" after 90 were shown.
            # Not a wire field; Completion reads it as a count, marked as counted.
            body[STREAMED_TOKENS] = _token_count(self._choices[min(self._choices)])
        if self.error is not None:
            body["error"] = self.error
        return body


def _index(value: Any, default: int) -> int:
    """A choice's or tool call's `index`; a missing or malformed one (null, a string, a list) is
    taken as its position, so odd chunks cannot break the assembly and lose the text."""
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def reasoning_piece(chunk: dict[str, Any]) -> str:
    """The reasoning a chunk adds to the first choice ("" if none): `delta.reasoning`, as OpenRouter streams it."""
    choices = chunk.get("choices") if isinstance(chunk.get("choices"), list) else []
    delta = choices[0].get("delta") if choices and isinstance(choices[0], dict) else None
    piece = delta.get("reasoning") if isinstance(delta, dict) else None
    return piece if isinstance(piece, str) else ""


def _merge_delta(state: _Choice, delta: Any) -> str:
    if not isinstance(delta, dict):
        return ""
    if delta.get("role"):
        state.role = delta["role"]
    if delta.get("reasoning"):
        state.reasoning.append(str(delta["reasoning"]))
    for call in delta.get("tool_calls") or ():
        if isinstance(call, dict):
            _merge_tool_call(state.tool_calls, call)
    content = delta.get("content")
    return content if isinstance(content, str) else ""


def _merge_tool_call(calls: dict[int, dict[str, Any]], part: dict[str, Any]) -> None:
    """Streamed tool calls come in pieces keyed by index; the arguments string is split up."""
    call = calls.setdefault(_index(part.get("index"), len(calls)), {"type": "function", "function": {"arguments": ""}})
    for name in ("id", "type"):
        if part.get(name):
            call[name] = part[name]
    function = part.get("function") if isinstance(part.get("function"), dict) else {}
    if function.get("name"):
        call["function"]["name"] = function["name"]
    call["function"]["arguments"] += str(function.get("arguments") or "")


def _merge_logprobs(state: _Choice, logprobs: dict[str, Any]) -> None:
    content = logprobs.get("content")
    if isinstance(content, list):
        if state.chat_logprobs is None:
            state.chat_logprobs = []
        state.chat_logprobs += content
    elif isinstance(logprobs.get("tokens"), list):
        if state.legacy_logprobs is None:
            state.legacy_logprobs = {name: [] for name in _LEGACY_LISTS}
        n = len(logprobs["tokens"])
        for name in _LEGACY_LISTS:  # pad so the parallel lists stay aligned
            values = logprobs.get(name)
            values = values if isinstance(values, list) else []
            state.legacy_logprobs[name] += (values + [None] * n)[:n]


def _choice_body(index: int, state: _Choice) -> dict[str, Any]:
    text = valid_unicode("".join(state.pieces))
    choice: dict[str, Any] = {"index": index}
    if state.legacy:
        choice["text"] = text
    else:
        message: dict[str, Any] = {"role": state.role, "content": text}
        if state.reasoning:
            message["reasoning"] = valid_unicode("".join(state.reasoning))
        if state.tool_calls:
            message["tool_calls"] = [state.tool_calls[i] for i in sorted(state.tool_calls)]
        choice["message"] = message
    choice["finish_reason"] = state.finish_reason
    choice["native_finish_reason"] = state.native_finish_reason
    if state.chat_logprobs is not None:
        choice["logprobs"] = {"content": state.chat_logprobs, "refusal": None}
    elif state.legacy_logprobs is not None:
        choice["logprobs"] = state.legacy_logprobs
    else:
        choice["logprobs"] = None
    if state.error is not None:
        choice["error"] = state.error
    return choice
