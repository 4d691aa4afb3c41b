"""Scripted one-token answers with known probabilities, for calibration tests.

``srv.script_first_token(reported, sampled, when=None)`` queues answers: each completion request
(whose prompt or messages contain ``when``, if given) takes the next token of ``sampled`` as its
one-token answer, and reports ``reported`` as that position's distribution (the chosen token's
logprob and the alternatives, best first, as many as asked for).  The sampled frequencies and
reported probabilities are then exactly known: a script that samples each token as often as it
reports is perfectly calibrated.  Non-stream requests only (sweeps are sent unstreamed); a
streamed request passes the script by.
"""
from __future__ import annotations

import collections
import json
import math
import threading
from dataclasses import dataclass, field

from tests.fakeserver.bodies import new_gen_id


@dataclass
class Script:
    reported: dict[str, float]
    sampled: collections.deque[str]
    when: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def matches(self, body: dict) -> bool:
        if self.when is None:
            return True
        text = body.get("prompt") if isinstance(body.get("prompt"), str) else json.dumps(body.get("messages"))
        return self.when in (text or "")

    def take(self) -> str | None:
        with self.lock:
            return self.sampled.popleft() if self.sampled else None


def scripted_body(endpoint: str, body: dict, token: str, reported: dict[str, float], legacy: bool) -> dict:
    """A one-token answer `token` whose position reports `reported` (both logprob shapes)."""
    ranked = sorted(reported.items(), key=lambda kv: -kv[1])
    lp = {t: math.log(p) if p > 0 else -9999.0 for t, p in ranked}
    n = body.get("top_logprobs") or (body.get("logprobs") if endpoint == "completions" else 0)
    n = n if isinstance(n, int) and not isinstance(n, bool) else 0
    alts = ranked[:n]
    wants = body.get("logprobs") or body.get("top_logprobs") is not None
    if not wants:
        logprobs = None
    elif legacy:
        logprobs = {"tokens": [token], "token_logprobs": [lp.get(token, -9999.0)],
                    "top_logprobs": [{t: lp[t] for t, _ in alts}], "text_offset": [len(body.get("prompt", ""))]}
    else:
        logprobs = {"content": [{"token": token, "logprob": lp.get(token, -9999.0), "bytes": list(token.encode()),
                                 "top_logprobs": [{"token": t, "logprob": lp[t], "bytes": list(t.encode())}
                                                  for t, _ in alts]}], "refusal": None}
    choice: dict = {"index": 0, "finish_reason": "length", "native_finish_reason": "length", "logprobs": logprobs}
    if endpoint == "completions":
        choice["text"] = token
    else:
        choice["message"] = {"role": "assistant", "content": token, "refusal": None, "reasoning": None}
    return {"id": new_gen_id(), "provider": "OpenAI", "model": body.get("model"),
            "object": "chat.completion" if endpoint == "chat" else "text_completion", "created": 0,
            "choices": [choice],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6, "cost": 0.0}}
