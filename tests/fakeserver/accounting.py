"""Usage and ``GET /generation`` stats of the fake server: what an answer costs and how it was served."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from tests.fakeserver import catalog as catalog

if TYPE_CHECKING:
    from tests.fakeserver.bodies import Job


def usage(job: Job, completion_tokens: int | None = None) -> dict:
    ct = (len(job.gen.tokens) if completion_tokens is None else completion_tokens) + job.reasoning_tokens
    price = job.entry["pricing"]
    p_cost, c_cost = job.prompt_tokens * float(price["prompt"]), ct * float(price["completion"])
    if job.usage_style == "no_cost":  # as llama.cpp: token counts, no cost
        return {"prompt_tokens": job.prompt_tokens, "completion_tokens": ct, "total_tokens": job.prompt_tokens + ct}
    return {"prompt_tokens": job.prompt_tokens, "completion_tokens": ct,
            "total_tokens": job.prompt_tokens + ct, "cost": catalog.cost(job.entry, job.prompt_tokens, ct),
            "is_byok": False,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": job.reasoning_tokens, "image_tokens": 0},
            "cost_details": {"upstream_inference_cost": None,
                             "upstream_inference_prompt_cost": p_cost,
                             "upstream_inference_completions_cost": c_cost}}


def generation_stats(job: Job, latency_ms: int, streamed: bool, finish: str) -> dict:
    """``GET /generation`` data for a served job."""
    return {"id": job.gen_id, "upstream_id": "chatcmpl-" + job.gen_id[-12:],
            "total_cost": job.cost, "cache_discount": None, "upstream_inference_cost": None,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(job.created)),
            "model": job.model, "app_id": None, "streamed": streamed, "cancelled": False,
            "provider_name": job.provider or job.entry["_provider"], "latency": latency_ms,
            "moderation_latency": None, "generation_time": latency_ms,
            "finish_reason": finish, "native_finish_reason": finish,
            "tokens_prompt": job.prompt_tokens, "tokens_completion": len(job.gen.tokens),
            "native_tokens_prompt": job.prompt_tokens,
            "native_tokens_completion": len(job.gen.tokens) + job.reasoning_tokens, "native_tokens_reasoning": job.reasoning_tokens,
            "num_media_prompt": None, "num_search_results": None, "origin": "",
            "usage": job.cost, "is_byok": False}
