"""What one answer says: text, finish reason, usage, cost, ids and logprobs.

Reads a chat or a legacy-completions body (streamed answers are first assembled into the
same shape), tolerating the fields that providers leave out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.coerce import to_float
from .logprobs import TokenLogprobs, parse_logprobs
from .stream import STREAMED_TOKENS


@dataclass
class Completion:
    """The parts of a response that the tables and the display need."""

    text: str = ""
    finish_reason: str | None = None
    model: str | None = None
    provider: str | None = None
    generation_id: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost: float | None = None
    logprobs: TokenLogprobs | None = None
    tool_calls: list[Any] = field(default_factory=list)
    reasoning: str | None = None
    tokens_counted: bool = False  # completion_tokens counted from a stream that sent no usage
    native_finish_reason: str | None = None  # the provider's own word for the finish (OpenRouter passes it on)
    reasoning_tokens: int | None = None  # usage.completion_tokens_details.reasoning_tokens

    @classmethod
    def from_response(cls, raw: dict[str, Any]) -> "Completion":
        choice, message = first_choice(raw)
        usage = raw.get("usage") if isinstance(raw.get("usage"), dict) else {}
        counted = _int(raw.get(STREAMED_TOKENS)) if _int(usage.get("completion_tokens")) is None else None
        return cls(
            text=choice_text(choice, message),
            finish_reason=_str(choice.get("finish_reason")),
            model=_str(raw.get("model")),
            provider=_str(raw.get("provider")),
            generation_id=_str(raw.get("id")),
            prompt_tokens=_int(usage.get("prompt_tokens")),
            completion_tokens=_int(usage.get("completion_tokens")) if counted is None else counted,
            cost=to_float(usage.get("cost")),
            logprobs=parse_logprobs(choice.get("logprobs")),
            tool_calls=[c for c in message.get("tool_calls") or [] if isinstance(c, dict)]
            if isinstance(message.get("tool_calls"), list) else [],
            reasoning=_str(message.get("reasoning")) or _details_text(message.get("reasoning_details")),
            tokens_counted=counted is not None,
            native_finish_reason=_str(choice.get("native_finish_reason")),
            reasoning_tokens=_int(_details(usage, "completion_tokens_details").get("reasoning_tokens")),
        )


def _details(parent: dict[str, Any], name: str) -> dict[str, Any]:
    value = parent.get(name)
    return value if isinstance(value, dict) else {}


def _details_text(details: Any) -> str | None:
    """The text of `reasoning_details` when a provider sends only those (reasoning.text / .summary)."""
    texts = [str(d.get("text") or d.get("summary") or "") for d in details or () if isinstance(d, dict)]
    return "".join(texts) or None


def first_choice(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The first choice of an answer and its chat message ({} for what is missing or malformed)."""
    choices = raw.get("choices") if isinstance(raw.get("choices"), list) else []
    choice = choices[0] if choices and isinstance(choices[0], dict) else {}
    message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
    return choice, message


def choice_text(choice: dict[str, Any], message: dict[str, Any]) -> str:
    """A choice's text: the chat message's content, or a legacy completion's `text`."""
    return str(message.get("content") or choice.get("text") or "")


def _str(value: Any) -> str | None:
    """A text field as text: a server that sends a number or an object there sent no text."""
    if value is None or isinstance(value, str):
        return value
    return str(value) if isinstance(value, (int, float)) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None

