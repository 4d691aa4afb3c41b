"""Request validation and response bodies (non-stream and SSE chunks) of the fake server.

Shapes follow OPENROUTER.md §3-4. ``parse_job`` turns a request body into a ``Job``
(or raises ``BadRequest`` carrying OpenRouter's 400 body); the builders turn a Job
into JSON-ready dicts.
"""
from __future__ import annotations

import json
import os
import random
import secrets
import time
from dataclasses import dataclass
from typing import Iterator

from tests.fakeserver import catalog as catalog
from tests.fakeserver.accounting import usage
from tests.fakeserver.continuation import PromptMemory, continue_from
from tests.fakeserver.faults import error_body
from tests.fakeserver.reasoning import details, reasoning_for
from tests.fakeserver.routing import RoutingError, choose_endpoint, serving_model
from tests.fakeserver.structured import structured_generation, tool_call_deltas
from tests.fakeserver.textgen import (
    Generation,
    RawJSON,
    Sampler,
    chat_logprobs,
    generate,
    legacy_logprobs,
    stable_hash,
)

DEFAULT_MODEL = "openai/gpt-4o-mini"
DEFAULT_MAX_TOKENS = 16
MAX_TOKENS_CAP = 65_536  # no context-length check; just keep memory bounded
# "no_cost": usage as llama.cpp and other OpenAI-compatible servers send it, tokens without cost
USAGE_STYLES = ("after_finish", "empty_choices", "no_cost")
_ROLES = {"system", "user", "assistant", "tool", "developer"}
# name -> (low, high, low_inclusive, integer)
_RANGES = {
    "temperature": (0.0, 2.0, True, False), "top_p": (0.0, 1.0, False, False),
    "top_k": (0, 10**9, True, True), "max_tokens": (1, 10**9, True, True),
    "max_completion_tokens": (1, 10**9, True, True), "top_logprobs": (0, 20, True, True),
    "frequency_penalty": (-2.0, 2.0, True, False), "presence_penalty": (-2.0, 2.0, True, False),
    "repetition_penalty": (0.0, 2.0, False, False), "min_p": (0.0, 1.0, True, False),
    "top_a": (0.0, 1.0, True, False), "seed": (-2**63, 2**63 - 1, True, True),
}


# What a provider itself calls a finish (OpenRouter normalises finish_reason, passes this on).
_NATIVE = {"Anthropic": {"stop": "end_turn", "length": "max_tokens"}, "Together": {"stop": "eos"}}


class BadRequest(Exception):
    def __init__(self, message: str, body: dict | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.status, self.body = status, body or error_body(status, message)


@dataclass
class Job:
    endpoint: str          # "chat" or "completions"
    model: str
    entry: dict            # catalog entry
    gen_id: str
    created: int
    stream: bool
    n_top: int | None      # alternatives per token; None = logprobs null
    legacy: bool           # legacy logprobs shape (only on /completions)
    prompt_chars: int
    prompt_tokens: int
    usage_style: str
    gen: Generation
    tool_calls: list[dict] | None = None  # a tool-call answer (structured.py)
    echo: str = ""         # a prefill repeated before the answer (prefill_style "echo")
    provider: str = ""     # the endpoint that serves it (routing.py)
    thought: list[str] | None = None  # reasoning pieces sent (reasoning.py); None: not shown
    reasoning_tokens: int = 0

    @property
    def cost(self) -> float:
        return catalog.cost(self.entry, self.prompt_tokens, len(self.gen.tokens) + self.reasoning_tokens)


def encode(obj: object) -> bytes:
    """Compact UTF-8 JSON; RawJSON logprobs in ``choices`` are spliced in unparsed
    (the dict is consumed: its RawJSON values are replaced by placeholders)."""
    raws: list[tuple[str, str]] = []
    for choice in obj.get("choices", ()) if isinstance(obj, dict) else ():
        if isinstance(choice.get("logprobs"), RawJSON):
            mark = f"__RAWJSON_{len(raws)}__"
            raws.append((f'"{mark}"', choice["logprobs"]))
            choice["logprobs"] = mark
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    for mark, raw in raws:
        text = text.replace(mark, raw, 1)
    return text.encode()


def new_gen_id() -> str:
    return f"gen-{int(time.time())}-{secrets.token_urlsafe(15)[:20]}"


def _check_ranges(body: dict) -> None:
    for name, (lo, hi, lo_incl, integer) in _RANGES.items():
        v = body.get(name)
        if v is None:
            continue
        ok_type = isinstance(v, int) if integer else isinstance(v, (int, float))
        if isinstance(v, bool) or not ok_type or v > hi or v < lo or (v == lo and not lo_incl):
            span = f"{'[' if lo_incl else '('}{lo}, {hi}]"
            raise BadRequest(f"Invalid value for '{name}': {v!r} (expected "
                             f"{'an integer' if integer else 'a number'} in {span})")


def _stops(body: dict) -> list[str]:
    stop = body.get("stop")
    if stop is None:
        return []
    stops = [stop] if isinstance(stop, str) else stop
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise BadRequest("Invalid value for 'stop': expected a string or a list of strings")
    if len(stops) > 4:
        raise BadRequest("Invalid value for 'stop': at most 4 stop sequences")
    return stops


def _prompt(endpoint: str, body: dict) -> tuple[str, int, int]:
    """(hash key, prompt chars for text_offset, prompt_tokens)."""
    if endpoint == "completions":
        prompt = body.get("prompt")
        if not isinstance(prompt, str):
            raise BadRequest("Input required: 'prompt' must be a string")
        return prompt, len(prompt), max(1, len(prompt.split()))
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs or not all(
            isinstance(m, dict) and m.get("role") in _ROLES for m in msgs):
        raise BadRequest("Input required: 'messages' must be a non-empty list of "
                         "{role, content} objects")
    words = sum(len(_content_text(m.get("content")).split()) + 4 for m in msgs)
    return json.dumps(msgs, sort_keys=True), 0, words


def _content_text(content: object) -> str:
    if isinstance(content, list):  # content parts: [{"type":"text","text":...}, ...]
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def _logprob_request(endpoint: str, body: dict) -> tuple[int | None, bool]:
    """(alternatives count or None, legacy-requested) from logprobs/top_logprobs."""
    lp, top = body.get("logprobs"), body.get("top_logprobs")
    if endpoint == "chat":
        return (top or 0, False) if lp is True else (None, False)
    if isinstance(lp, int) and not isinstance(lp, bool) and not 0 <= lp <= 5:
        raise BadRequest(f"Invalid value for 'logprobs': {lp} (legacy completions "
                         "accept an integer in [0, 5])")
    if top is not None:
        return top, True
    if lp is True:
        return 0, True
    if isinstance(lp, int) and not isinstance(lp, bool):
        return lp, True
    return None, False


def _sampler(body: dict, model: str, prompt_key: str, honours_seed: bool = True) -> Sampler:
    temp = float(body.get("temperature", 1.0))
    rng = None
    if temp > 0:  # seeded -> reproducible; unseeded (or a provider ignoring seed) -> fresh randomness
        seed = body.get("seed") if honours_seed else None
        rng = random.Random(stable_hash(model, prompt_key, seed) if seed is not None
                            else os.urandom(16))
    return Sampler(temp, float(body.get("top_p", 1.0)), int(body.get("top_k", 0)), rng)


def parse_job(endpoint: str, body: object, *, logprobs_style: str, usage_style: str,
              prefill_style: str = "continue", memory: PromptMemory | None = None) -> Job:
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object")
    model = serving_model(body) or body.get("model") or DEFAULT_MODEL
    entry = catalog.lookup(model) if isinstance(model, str) else None
    if entry is None:
        raise BadRequest(f"{model} is not a valid model ID", _model_not_found(str(model)))
    _check_ranges(body)
    try:
        served_by = choose_endpoint(model, entry, body)
    except RoutingError as exc:
        raise BadRequest(str(exc), exc.body, exc.status) from None
    supported = served_by["supported_parameters"]
    key, chars, prompt_tokens = _prompt(endpoint, body)
    _check_context(entry, prompt_tokens, body)
    n_top, legacy = _logprob_request(endpoint, body)
    if not catalog.gives_logprobs(model, entry) or "logprobs" not in supported:
        n_top = None
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_MAX_TOKENS
    stops = _stops(body)
    gen, calls = structured_generation(endpoint, body, model, key)
    echo = ""
    if gen is None:
        key, after, echo = continue_from(endpoint, body, model, key, prefill_style, memory)
        gen = generate(key, model, max_tokens=min(max_tokens, MAX_TOKENS_CAP), stop=stops,
                       sampler=_sampler(body, model, key, "seed" in supported), after=after)
    style = body.get("fake_usage_style", usage_style)
    if style not in USAGE_STYLES:
        raise BadRequest(f"fake_usage_style must be one of {USAGE_STYLES}")
    return Job(endpoint, model, entry, new_gen_id(), int(time.time()), body.get("stream") is True,
               n_top, endpoint == "completions" and legacy and logprobs_style == "legacy",
               chars, prompt_tokens, style, gen, calls, echo, served_by["provider_name"],
               *_thought(body, entry))


def _thought(body: dict, entry: dict) -> tuple[list[str] | None, int]:
    pieces, tokens, shown = reasoning_for(body, entry)
    return (pieces if shown else None), tokens


def _check_context(entry: dict, prompt_tokens: int, body: dict) -> None:
    """OpenRouter's 400 for a request longer than the model's context (prompt + asked-for answer)."""
    limit = entry.get("context_length")
    asked = body.get("max_completion_tokens") or body.get("max_tokens") or 0
    if isinstance(limit, int) and prompt_tokens + asked > limit:
        raise BadRequest("", error_body(
            400, f"This endpoint's maximum context length is {limit} tokens. However, you requested about "
                 f"{prompt_tokens + asked} tokens ({prompt_tokens} of text input, {asked} in the output). Please "
                 "reduce the length of either one, or use the \"middle-out\" transform to compress your prompt "
                 "automatically.", {"error_type": "context_length_exceeded"}))


def _model_not_found(model: str) -> dict:
    body = error_body(400, f"{model} is not a valid model ID", {"error_type": "model_not_found"})
    body["error"]["availability"] = {"code": "model_not_found", "retryable": False}
    return body


def _logprobs(job: Job, lo: int = 0, hi: int | None = None) -> RawJSON | None:
    if job.n_top is None:
        return None
    if job.legacy:
        return legacy_logprobs(job.gen, job.n_top, job.prompt_chars, lo, hi)
    return chat_logprobs(job.gen, job.n_top, lo, hi)


def _head(job: Job, obj: str) -> dict:
    return {"id": job.gen_id, "provider": job.provider or job.entry["_provider"], "model": job.model,
            "object": obj, "created": job.created,
            "system_fingerprint": f"fp_{stable_hash(job.model) % 16**10:010x}"}


def _choice(job: Job, text: str, finish: str | None, logprobs: dict | None,
            stream: bool) -> dict:
    choice: dict = {"index": 0}
    if job.endpoint == "completions":
        choice["text"] = text
    elif stream:
        choice["delta"] = {"role": "assistant", "content": text}
    else:
        thought = "".join(job.thought) if job.thought else None
        choice["message"] = {"role": "assistant", "content": text, "refusal": None, "reasoning": thought}
        if thought:
            choice["message"]["reasoning_details"] = details(thought)
        if job.tool_calls:  # OpenAI: content null beside the calls
            choice["message"].update(content=None, tool_calls=job.tool_calls)
    choice.update(finish_reason=finish, native_finish_reason=_NATIVE.get(job.provider, {}).get(finish, finish),
                  logprobs=logprobs)
    return choice


def response_body(job: Job, upto: int | None = None, error: dict | None = None) -> dict:
    """Non-stream body; ``upto``/``error`` cut the content and set finish_reason "error"."""
    obj = "chat.completion" if job.endpoint == "chat" else "text_completion"
    text = job.echo + (job.gen.text if upto is None else "".join(job.gen.pieces[:upto]))
    choice = _choice(job, text, "error" if error else job.gen.finish_reason,
                     _logprobs(job, 0, upto), stream=False)
    if error:
        choice["error"] = error
    return {**_head(job, obj), "choices": [choice], "usage": usage(job, upto)}


def stream_chunks(job: Job) -> Iterator[dict]:
    """Token chunks, the finish chunk, then the usage chunk (shape per usage_style)."""
    obj = "chat.completion.chunk" if job.endpoint == "chat" else "text_completion"
    head = _head(job, obj)
    if job.tool_calls:
        for n, calls in enumerate(tool_call_deltas(job.tool_calls)):
            delta = {"role": "assistant", "content": None} if n == 0 else {}
            choice = {"index": 0, "delta": {**delta, "tool_calls": calls}, "finish_reason": None,
                      "native_finish_reason": None, "logprobs": None}
            yield {**head, "choices": [choice]}
    for piece in job.thought or ():  # reasoning streams before the content
        delta = {"role": "assistant", "content": "", "reasoning": piece, "reasoning_details": details(piece)}
        yield {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": None,
                                    "native_finish_reason": None, "logprobs": None}]}
    for i, piece in enumerate([] if job.tool_calls else job.gen.pieces):
        piece = job.echo + piece if i == 0 else piece
        yield {**head, "choices": [_choice(job, piece, None, _logprobs(job, i, i + 1), True)]}
    yield {**head, "choices": [_choice(job, "", job.gen.finish_reason, None, True)]}
    tail = [] if job.usage_style == "empty_choices" else [_choice(job, "", None, None, True)]
    yield {**head, "choices": tail, "usage": usage(job)}


def error_chunk(job: Job, error: dict) -> dict:
    """Mid-stream error (OPENROUTER.md §4): status stays 200, top-level ``error``."""
    choice = {"index": 0, "finish_reason": "error"}
    if job.endpoint == "chat":
        choice["delta"] = {"content": ""}
    else:
        choice["text"] = ""
    head = _head(job, "chat.completion.chunk")
    del head["system_fingerprint"]
    return {**head, "error": error, "choices": [choice]}
