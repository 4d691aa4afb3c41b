"""OpenRouter's per-generation stats (`r.stats()`) and the determinism report (`r.determinism()`).

GET /generation?id= answers 404 for a few seconds after an answer (OPENROUTER.md §9), so stats()
retries with backoff until a deadline shared by all runs, then gives what it has: a run whose
stats are not there yet keeps a row with `status` "not ready" (call again later).  The request
goes through a `GenerationLookup` the api injects, as it injects the Executor for forks.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Any, Callable, Sequence

from ..core.errors import APIError
from .divergence import first_divergence

if TYPE_CHECKING:
    import pandas as pd

    from ..run.request import Run

GenerationLookup = Callable[[str], dict[str, Any]]  # generation id -> GET /generation's `data`
STATS_FIELDS = {"provider": "provider_name", "native_tokens_prompt": "native_tokens_prompt",
                "native_tokens_completion": "native_tokens_completion",
                "native_tokens_reasoning": "native_tokens_reasoning", "latency_ms": "latency",
                "generation_time_ms": "generation_time", "cache_discount": "cache_discount",
                "cost": "total_cost"}
STATS_COLUMNS = ["run", "generation_id", *STATS_FIELDS, "status"]
DETERMINISM_COLUMNS = ["runs", "exact_match_rate", "distinct_outputs", "first_divergence", "divergence_unit",
                       "seeded"]


def stats_frame(runs: Sequence["Run"], lookup: GenerationLookup, wait: float,
                sleep: Callable[[float], None] = time.sleep) -> "pd.DataFrame":
    """One row per run: the generation's provider, native tokens, latency, generation time, cache
    discount and cost; waiting at most `wait` seconds in all for stats not yet available."""
    import pandas as pd

    deadline = time.monotonic() + wait
    rows = [_stats_row(run, lookup, deadline, sleep) for run in runs]
    return pd.DataFrame(rows, columns=STATS_COLUMNS)


def _stats_row(run: "Run", lookup: GenerationLookup, deadline: float, sleep: Callable[[float], None]) -> dict:
    gen_id = run.completion.generation_id if run.completion is not None else None
    row: dict[str, Any] = {"run": run.index, "generation_id": gen_id}
    if not gen_id or run.cached:
        return {**row, "status": "cached" if run.cached else "no generation id"}
    delay = 0.25
    while True:
        try:
            data = lookup(gen_id)
        except APIError as exc:
            if exc.status != 404:
                return {**row, "status": f"error: {exc}"}
            if time.monotonic() + delay > deadline:
                return {**row, "status": "not ready"}
            sleep(delay)
            delay = min(delay * 2, 4.0)
            continue
        return {**row, **{col: data.get(name) for col, name in STATS_FIELDS.items()}, "status": "ok"}


def determinism_frame(runs: Sequence["Run"], key_columns: Sequence[str]) -> "pd.DataFrame":
    """Per group of runs that share every parameter but sample and provider, and per provider: runs,
    the share of runs whose text is the group's most common one, distinct outputs, the first position
    where the runs' token sequences diverge (characters when some run has no tokens; None: identical),
    and whether a seed was set."""
    import pandas as pd

    group_by = [c for c in key_columns if c not in ("sample", "provider")]
    groups: dict[tuple, list["Run"]] = {}
    for run in runs:
        if not run.ok:
            continue
        key = (*(run.key().get(c) for c in group_by), run.field("provider") or run.key().get("provider"))
        groups.setdefault(key, []).append(run)
    rows = [{**dict(zip([*group_by, "provider"], key)), **_consistency(members)} for key, members in groups.items()]
    table = pd.DataFrame(rows, columns=[*group_by, "provider", *DETERMINISM_COLUMNS])
    table["first_divergence"] = table["first_divergence"].astype("Int64")  # <NA>: the runs are identical
    return table


def _consistency(runs: Sequence["Run"]) -> dict[str, Any]:
    texts = Counter(r.text for r in runs)
    tokens = [list(r.logprobs.token) for r in runs if r.logprobs is not None and len(r.logprobs)]
    by_token = len(tokens) == len(runs)
    sequences = tokens if by_token else [list(r.text) for r in runs]
    diverges = first_divergence(sequences) if len(runs) > 1 else None
    return {"runs": len(runs), "exact_match_rate": texts.most_common(1)[0][1] / len(runs),
            "distinct_outputs": len(texts), "first_divergence": diverges,
            "divergence_unit": "token" if by_token else "char",
            "seeded": any(r.spec.params.get("seed") is not None for r in runs)}
