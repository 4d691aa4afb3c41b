"""Model catalog of the fake OpenRouter server: ``GET /models`` data, pricing, providers.

Prices are strings in USD per token, as OpenRouter sends them. Ids that start with
``test/`` (or contain ``nologprobs``) are accepted even when not listed; they get
``TEST_MODEL``'s price so costs and budgets are non-zero in tests.
"""
from __future__ import annotations

import copy

_COMMON = ["max_tokens", "temperature", "top_p", "stop", "frequency_penalty",
           "presence_penalty", "seed", "response_format"]
_LOGPROBS = ["logprobs", "top_logprobs", "logit_bias"]
_OPEN = ["top_k", "min_p", "repetition_penalty", "top_a"]
_TOOLS = ["tools", "tool_choice", "structured_outputs"]
_REASONING = ["reasoning", "include_reasoning"]


def _model(mid: str, name: str, created: int, ctx: int, prompt: str, completion: str,
           params: list[str], *, provider: str, tokenizer: str, max_out: int | None,
           moderated: bool = False, description: str = "") -> dict:
    return {
        "id": mid,
        "canonical_slug": mid.split(":")[0],
        "hugging_face_id": "",
        "name": name,
        "created": created,
        "description": description or f"{name}, served by the local fake OpenRouter.",
        "context_length": ctx,
        "architecture": {"modality": "text->text", "input_modalities": ["text"],
                         "output_modalities": ["text"], "tokenizer": tokenizer,
                         "instruct_type": None},
        "pricing": {"prompt": prompt, "completion": completion, "request": "0", "image": "0",
                    "web_search": "0", "internal_reasoning": "0"},
        "top_provider": {"context_length": ctx, "max_completion_tokens": max_out,
                         "is_moderated": moderated},
        "per_request_limits": None,
        "supported_parameters": params,
        "default_parameters": {"temperature": None, "top_p": None, "frequency_penalty": None},
        # Not part of the OpenRouter model object: which provider name responses carry.
        "_provider": provider,
    }


_MODELS = [
    _model("openai/gpt-3.5-turbo-instruct", "OpenAI: GPT-3.5 Turbo Instruct", 1695859200,
           4095, "0.0000015", "0.000002", _COMMON + _LOGPROBS, provider="OpenAI",
           tokenizer="GPT", max_out=4096, moderated=True,
           description="Instruct model; use the legacy /completions endpoint."),
    _model("openai/gpt-3.5-turbo", "OpenAI: GPT-3.5 Turbo", 1685232000, 16385,
           "0.0000005", "0.0000015", _COMMON + _LOGPROBS + _TOOLS, provider="OpenAI",
           tokenizer="GPT", max_out=4096, moderated=True),
    _model("openai/gpt-4o-mini", "OpenAI: GPT-4o-mini", 1721260800, 128000,
           "0.00000015", "0.0000006", _COMMON + _LOGPROBS + _TOOLS, provider="OpenAI",
           tokenizer="GPT", max_out=16384, moderated=True),
    _model("meta-llama/llama-3.1-8b-instruct", "Meta: Llama 3.1 8B Instruct", 1721692800,
           131072, "0.00000002", "0.00000003", _COMMON + _LOGPROBS + _OPEN + _TOOLS,
           provider="DeepInfra", tokenizer="Llama3", max_out=16384),
    _model("mistralai/mistral-7b-instruct:free", "Mistral: Mistral 7B Instruct (free)",
           1716768000, 32768, "0", "0", _COMMON + _OPEN, provider="Mistral",
           tokenizer="Mistral", max_out=16384),
    _model("anthropic/claude-3.5-haiku", "Anthropic: Claude 3.5 Haiku", 1730678400, 200000,
           "0.0000008", "0.000004", ["max_tokens", "temperature", "top_p", "top_k", "stop",
                                     "tools", "tool_choice"],
           provider="Anthropic", tokenizer="Claude", max_out=8192, moderated=True),
    # Listed without top_logprobs: the preflight's example of a parameter no provider lists.
    _model("cohere/command-r-08-2024", "Cohere: Command R (08-2024)", 1724976000, 128000,
           "0.00000015", "0.0000006", _COMMON + ["logprobs", "tools", "tool_choice"], provider="Cohere",
           tokenizer="Cohere", max_out=4000),
    _model("deepseek/deepseek-r1", "DeepSeek: R1", 1737381095, 163840, "0.0000004", "0.000002",
           _COMMON + _REASONING, provider="DeepInfra", tokenizer="DeepSeek", max_out=163840),
    _model("test/nologprobs", "Test: provider without logprobs", 1700000000, 8192,
           "0.000001", "0.000002", _COMMON, provider="FakeProvider", tokenizer="Other",
           max_out=None),
    # A model whose context a short conversation fills: what conversations trim for (and what
    # bodies.py refuses with OpenRouter's 400 when a request does not fit).
    _model("test/short-context", "Test: 300-token context", 1700000001, 300,
           "0.000001", "0.000002", _COMMON + _LOGPROBS, provider="FakeProvider", tokenizer="Other",
           max_out=100),
    # OpenRouter lists its variable-priced router at "-1" (the routed model's price is billed).
    _model("openrouter/auto", "Auto Router", 1699401600, 2000000, "-1", "-1", _COMMON,
           provider="OpenAI", tokenizer="Router", max_out=None),
]
_BY_ID = {m["id"]: m for m in _MODELS}
# Models several providers serve, differing on purpose (OpenRouter's /models lists the union of
# their parameters; /models/{author}/{slug}/endpoints each one's own): Together ignores seed and
# gives no logprobs, so a seeded sweep over both providers is reproducible on DeepInfra only.
_ENDPOINTS: dict[str, list[dict]] = {
    "meta-llama/llama-3.1-8b-instruct": [
        {"provider_name": "DeepInfra", "quantization": "bf16", "price": ("0.00000002", "0.00000003"),
         "supported_parameters": _COMMON + _LOGPROBS + _OPEN + _TOOLS, "throughput": 90, "latency": 0.5},
        {"provider_name": "Together", "quantization": "fp8", "price": ("0.00000001", "0.00000002"),
         "supported_parameters": [p for p in _COMMON if p != "seed"] + _OPEN + _TOOLS,
         "throughput": 140, "latency": 0.3},
        {"provider_name": "Lambda", "quantization": "fp8", "price": ("0.00000003", "0.00000005"),
         "supported_parameters": _COMMON + _LOGPROBS, "throughput": 60, "latency": 0.9,
         "collects_data": True},  # excluded by provider.data_collection "deny"
    ],
}
TEST_MODEL = {"pricing": {"prompt": "0.000001", "completion": "0.000002", "request": "0"},
              "supported_parameters": _COMMON + _LOGPROBS + _OPEN,
              "_provider": "FakeProvider"}


def lookup(model_id: str) -> dict | None:
    """Catalog entry (or the generic test entry), None for an unknown id."""
    if model_id in _BY_ID:
        return _BY_ID[model_id]
    if model_id.startswith("test/") or "nologprobs" in model_id:
        return TEST_MODEL
    return None


def gives_logprobs(model_id: str, entry: dict) -> bool:
    # OpenRouter silently drops parameters a provider does not support: logprobs -> null.
    return "nologprobs" not in model_id and "logprobs" in entry["supported_parameters"]


def cost(entry: dict, prompt_tokens: int, completion_tokens: int) -> float:
    p = entry["pricing"]
    if float(p["prompt"]) < 0:  # a router bills the model it picked
        p = _BY_ID["openai/gpt-4o-mini"]["pricing"]
    return (prompt_tokens * float(p["prompt"]) + completion_tokens * float(p["completion"])
            + float(p.get("request", "0")))


def list_models(supported: str | None = None) -> list[dict]:
    """Public model objects, filtered by a comma list of required parameters."""
    need = [s.strip() for s in (supported or "").split(",") if s.strip()]
    out = []
    for m in _MODELS:
        if all(s in m["supported_parameters"] for s in need):
            pub = copy.deepcopy(m)
            del pub["_provider"]
            out.append(pub)
    return out


def endpoints(model_id: str, entry: dict) -> list[dict]:
    """The providers serving a model (one, named by the entry, unless _ENDPOINTS lists several)."""
    if model_id in _ENDPOINTS:
        return _ENDPOINTS[model_id]
    price = entry["pricing"]
    return [{"provider_name": entry["_provider"], "quantization": "unknown",
             "price": (price["prompt"], price["completion"]),
             "supported_parameters": entry["supported_parameters"], "throughput": 50, "latency": 1.0}]


def endpoints_data(model_id: str) -> dict | None:
    """``GET /models/{author}/{slug}/endpoints`` data, None for a model not listed."""
    entry = _BY_ID.get(model_id)
    if entry is None:
        return None
    rows = [{"name": f"{e['provider_name']} | {model_id}", "model_name": entry["name"],
             "context_length": entry["context_length"],
             "pricing": {"prompt": e["price"][0], "completion": e["price"][1], "request": "0", "image": "0"},
             "provider_name": e["provider_name"], "tag": e["provider_name"].lower(),
             "quantization": e["quantization"], "max_completion_tokens": None, "max_prompt_tokens": None,
             "supported_parameters": list(e["supported_parameters"]), "status": 0,
             "uptime_last_30m": 100, "supports_implicit_caching": False}
            for e in endpoints(model_id, entry)]
    return {"id": model_id, "name": entry["name"], "created": entry["created"],
            "description": entry["description"], "architecture": entry["architecture"], "endpoints": rows}
