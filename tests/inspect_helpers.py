"""Hand-made answers for the logprob inspection tests: Results built from raw dicts."""

from __future__ import annotations

import math
from typing import Any

from or_magic.analysis.result import Result
from or_magic.run.request import Run, RunSpec
from or_magic.wire.response import Completion

LN = math.log


def alt(token: str, prob: float, with_bytes: bool = True) -> dict[str, Any]:
    entry: dict[str, Any] = {"token": token, "logprob": LN(prob) if prob > 0 else float("-inf")}
    if with_bytes:
        entry["bytes"] = list(token.encode())
    return entry


def entry(token: str, prob: float, alternatives: list[tuple[str, float]], **override: Any) -> dict[str, Any]:
    """A chat logprobs entry; `override` replaces fields (bytes=None, logprob=None, ...)."""
    out = {**alt(token, prob), "top_logprobs": [alt(t, p) for t, p in alternatives]}
    out.update(override)
    return out


def chat_raw(content: list[dict[str, Any]] | None, text: str | None = None) -> dict[str, Any]:
    logprobs = None if content is None else {"content": content, "refusal": None}
    if text is None:
        text = "".join(e.get("token", "") for e in content or [])
    return {"id": "gen-1", "model": "test/m", "choices": [
        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text},
         "logprobs": logprobs}], "usage": {"prompt_tokens": 3, "completion_tokens": 3}}


def legacy_raw(logprobs: dict[str, Any], text: str) -> dict[str, Any]:
    return {"id": "gen-2", "model": "test/m", "choices": [
        {"index": 0, "finish_reason": "length", "text": text, "logprobs": logprobs}]}


def result_of(*raws: dict[str, Any], params: dict[str, Any] | None = None, axis: str | None = None,
              choices: list[str] | None = None) -> Result:
    """One run per raw body; with `axis`, runs are a sweep over it (values 0, 1, ...)."""
    params = {"top_logprobs": 3} if params is None else params
    runs = []
    for i, raw in enumerate(raws):
        spec = RunSpec(model="test/m", prompt="p", params={**params, **({axis: i} if axis else {})})
        runs.append(Run(spec=spec, index=i, axes={axis: i} if axis else {}, raw=raw,
                        completion=Completion.from_response(raw)))
    return Result(runs, [axis] if axis else [], choices=choices or [])


# "Hi there!": three tokens, the last without alternatives.
HI = [entry("Hi", 0.5, [("Hi", 0.5), ("Hello", 0.25)]),
      entry(" there", 0.2, [(" you", 0.6), (" there", 0.2), (" all", 0.1)]),
      entry("!", 1.0, [])]
