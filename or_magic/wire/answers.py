"""What the server answered: parse it, and turn every kind of error answer into an APIError.

Pure functions on bytes and dicts (no HTTP): an error status, an error body inside an HTTP 200,
or a choice that finished with "error" all become the same `APIError`, with OpenRouter's code,
message and metadata.  Server text is scrubbed of the API key before it reaches an error.
"""

from __future__ import annotations

from typing import Any

from ..core import jsonbody
from ..core.errors import APIError, TransportError, error_class_for
from ..core.secrets import scrub, scrub_bytes, scrub_json
from .response import choice_text, first_choice
from .retry import daily_cap_hint

BAD_BODY = 502  # an HTTP 200 whose body is not JSON is judged like a bad gateway: worth retrying


def unusable_ok(content: bytes) -> tuple[int | None, dict[str, Any], dict[str, Any] | None]:
    """How to judge an HTTP 200 answer: (None, {}, the parsed answer) when it is usable or final,
    else the status and error fields to decide a retry by (and the answer, if it parsed).

    Retried (when the status says so): a body that is not JSON (truncated), and an error inside
    the 200 (top-level `error`, or a choice that finished with `error`) that came with no text.
    Not retried: an error that came with partial text, which was paid for and is kept as the
    error's `partial`; asking again would bill the whole answer a second time.
    """
    try:
        data = jsonbody.loads(content)
    except (ValueError, UnicodeDecodeError):
        return BAD_BODY, {}, None
    if not isinstance(data, dict):
        return BAD_BODY, {}, None
    error = data.get("error")
    for choice in _choices(data):
        if error is None and isinstance(choice, dict) and choice.get("finish_reason") == "error":
            error = choice.get("error") or {}
    if not isinstance(error, dict) or _partial_text(data):
        return None, {}, data
    code = error.get("code") if isinstance(error.get("code"), int) else error.get("http_status")
    return (code if isinstance(code, int) else BAD_BODY), error, data


def error_fields(content: bytes) -> dict[str, Any]:
    """The `error` object of an error body, or {} when the body has none."""
    try:
        data = jsonbody.loads(content)
    except (ValueError, UnicodeDecodeError):
        return {}
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else {}


def api_error(status: int | None, error: dict[str, Any], key: str | None, *,
              fallback: str = "", partial: str = "", headers: Any = None) -> APIError:
    """Build the APIError for an `error` object; OpenRouter's own code wins over the status."""
    code = error.get("code")
    if status is None or status < 400:
        status = code if isinstance(code, int) else error.get("http_status")
    metadata = error.get("metadata") if isinstance(error.get("metadata"), dict) else {}
    message = str(error.get("message") or fallback or "no message")
    raw = metadata.get("raw")
    if raw and message == "Provider returned error":
        message += f": {str(raw)[:300]}"
    cls = error_class_for(status if isinstance(status, int) else None)
    return cls(status if isinstance(status, int) else None, scrub(message, key), code=code,
               metadata=scrub_json(metadata, key), partial=partial, hint=daily_cap_hint(error, headers))


def redirect_error(status: int, headers: Any, base_url: str, key: str | None) -> TransportError:
    """A 3xx: named with its Location, never followed (the key would go along) nor retried."""
    where = scrub(headers.get("location", "") or "nowhere given", key)
    return TransportError(f"{base_url} answered HTTP {status}, a redirect to {where}; redirects are not "
                          "followed (the key would go along): set base_url to the address it names")


def check_answer(status: int, headers: Any, content: bytes, key: str | None,
                 parsed: dict[str, Any] | None = None) -> dict[str, Any]:
    """Parse a JSON answer, raising for an error status or an error inside an HTTP 200.

    `parsed` is the answer already parsed from the scrubbed content, so a large body is parsed once."""
    # Rebinding the parameter keeps a server's echo of the key out of verbose tracebacks too.
    content = scrub_bytes(content, key)
    if status >= 400:
        text = content[:300].decode("utf-8", "replace")
        raise api_error(status, error_fields(content), key, fallback=text or f"HTTP {status}", headers=headers)
    try:
        data = parsed if parsed is not None else jsonbody.loads(content)
    except (ValueError, UnicodeDecodeError):
        preview = content[:120].decode("utf-8", "replace")
        raise TransportError(f"the server's answer is not valid JSON: {scrub(preview, key)!r}") from None
    if not isinstance(data, dict):
        raise TransportError("the server's answer is not a JSON object")
    try:
        check_choices(data, key)
    except APIError as exc:
        exc.body = data  # the partial answer was paid for: keep it
        raise
    return data


def check_choices(data: dict[str, Any], key: str | None, partial: str | None = None) -> None:
    """Raise for a top-level `error` or a choice that finished with an error (both seen in 200s).

    `partial` is the text kept in the error (default: the text in `data`; a stream passes the
    text assembled so far)."""
    kept = _partial_text(data) if partial is None else partial
    if isinstance(data.get("error"), dict):
        raise api_error(None, data["error"], key, partial=kept)
    for choice in _choices(data):
        if isinstance(choice, dict) and choice.get("finish_reason") == "error":
            error = choice.get("error") if isinstance(choice.get("error"), dict) else {}
            raise api_error(None, error, key, fallback="the provider stopped with an error", partial=kept)


def _choices(data: dict[str, Any]) -> list[Any]:
    choices = data.get("choices")
    return choices if isinstance(choices, list) else []


def _partial_text(data: dict[str, Any]) -> str:
    return choice_text(*first_choice(data))


def ok_trouble(status: int | None, error: dict[str, Any], key: str | None) -> str | None:
    """How to name a retried HTTP 200 in the retry notice (None: the answer was not a 200).  The
    key is removed before the message is shortened: a cut key would no longer match."""
    if status is None or status >= 400:
        return None
    if not error:
        return "truncated answer"
    return f"error inside HTTP 200 ({scrub(str(error.get('message') or error.get('code')), key)[:60]})"
