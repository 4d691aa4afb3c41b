"""Continuing a given text: assistant prefill on chat, prompt continuation on /completions.

A real model conditions on text, so a request that ends with the beginning of an answer continues
it.  The fake model's state is (prompt, units so far) (textgen.generate), so the fake does the
same when the given text is made of its vocabulary (textgen.segment):

- chat: a final ``{"role": "assistant", "content": prefix}`` message is a prefill (OPENROUTER.md
  §9).  The answer continues from the state the prefix leads to under the other messages, so
  prefilling a generated answer's first k tokens regenerates the rest exactly (temperature 0).
  ``prefill_style`` imitates the servers: ``"continue"`` (content is the continuation only),
  ``"echo"`` (llama.cpp: content starts with the prefix; logprobs cover the new tokens only),
  ``"ignore"`` (a provider that drops the prefill: it answers the other messages from scratch).
- /completions: a prompt that extends a prompt served before (by this model) with vocabulary
  text continues from where that text leads, like a server that knows its own earlier output
  (the fake cannot tell from the text alone where the user's prompt ended).
"""
from __future__ import annotations

import json
import threading

from tests.fakeserver.textgen import segment

PREFILL_STYLES = ("continue", "echo", "ignore")


class PromptMemory:
    """The /completions prompts served, per model (bounded: the oldest go first)."""

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self._seen: dict[tuple[str, str], None] = {}
        self._lock = threading.Lock()

    def base_of(self, model: str, prompt: str) -> tuple[str, list[int]] | None:
        """The longest served prompt that `prompt` extends with vocabulary text, and that text's units."""
        with self._lock:
            known = [p for m, p in self._seen if m == model and len(p) < len(prompt) and prompt.startswith(p)]
        for base in sorted(known, key=len, reverse=True):
            units = segment(prompt[len(base):])
            if units is not None:
                return base, units
        return None

    def remember(self, model: str, prompt: str) -> None:
        with self._lock:
            self._seen[(model, prompt)] = None
            while len(self._seen) > self.limit:
                del self._seen[next(iter(self._seen))]

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()


def continue_from(endpoint: str, body: dict, model: str, key: str, style: str,
                  memory: PromptMemory | None) -> tuple[str, list[int] | None, str]:
    """(prompt key, units already written, text to repeat before the answer) for this request."""
    if endpoint == "completions":
        found = memory.base_of(model, key) if memory is not None else None
        if found is None:
            if memory is not None:
                memory.remember(model, key)
            return key, None, ""
        return found[0], found[1], ""
    msgs = body["messages"]
    last = msgs[-1]
    if len(msgs) < 2 or last.get("role") != "assistant" or not isinstance(last.get("content"), str):
        return key, None, ""
    head = json.dumps(msgs[:-1], sort_keys=True)
    if style == "ignore":
        return head, None, ""
    units = segment(last["content"])
    if units is None:  # not the fake's vocabulary: a fresh (deterministic) answer
        return key, None, last["content"] if style == "echo" else ""
    return head, units, last["content"] if style == "echo" else ""
