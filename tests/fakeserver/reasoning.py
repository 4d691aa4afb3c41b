"""Reasoning tokens of the fake server (OPENROUTER.md §9): a model that lists ``reasoning`` thinks
before it answers when the body asks (``reasoning: {effort|max_tokens, exclude}``).  The thought is
deterministic for a prompt; its length follows the effort, capped by ``max_tokens``; ``exclude``
keeps it out of the answer while its tokens are still counted (and billed)."""
from __future__ import annotations

_WORDS = {"minimal": 4, "low": 8, "medium": 16, "high": 32, "xhigh": 48}
_THOUGHT = ("Let me think about what is asked. The question wants a short answer. I should check the "
            "wording first, then recall what I know, weigh it, and answer plainly. ") * 4


def reasoning_for(body: dict, entry: dict) -> tuple[list[str], int, bool]:
    """(pieces of thought, reasoning tokens, shown) for this request; ([], 0, False) when none."""
    asked = body.get("reasoning")
    if not isinstance(asked, dict) and body.get("include_reasoning") is not True:
        return [], 0, False
    if "reasoning" not in entry["supported_parameters"]:
        return [], 0, False  # dropped silently, as OpenRouter drops what a model does not support
    asked = asked if isinstance(asked, dict) else {}
    if asked.get("enabled") is False or asked.get("effort") == "none":
        return [], 0, False
    words = _WORDS.get(str(asked.get("effort", "medium")), 16)
    if isinstance(asked.get("max_tokens"), int):
        words = max(1, min(words, asked["max_tokens"]))
    pieces = [w + " " for w in _THOUGHT.split()[:words]]
    return pieces, len(pieces), asked.get("exclude") is not True


def details(text: str) -> list[dict]:
    """``reasoning_details`` as OpenRouter's API reference documents them."""
    return [{"type": "reasoning.text", "text": text, "format": "unknown", "index": 0}]
