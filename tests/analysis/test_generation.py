"""r.stats() against a delayed /generation, and the determinism report's numbers on scripted answers."""

import pytest

from or_magic.analysis.generation import STATS_COLUMNS, determinism_frame
from or_magic.analysis.result import Result
from or_magic.api import complete, sweep
from or_magic.run.request import Run, RunSpec
from or_magic.wire.logprobs import TokenLogprobs
from or_magic.wire.response import Completion

LLAMA = "meta-llama/llama-3.1-8b-instruct"


def test_stats_wait_for_a_delayed_generation(server):
    server.generation_delay = 0.6
    r = complete("hi", LLAMA, stream=False, provider="Lambda")
    early = r.stats(wait=0)
    assert list(early.columns) == STATS_COLUMNS and early["status"].tolist() == ["not ready"]
    stats = r.stats(wait=20)
    row = stats.iloc[0]
    assert row.status == "ok" and row.provider == "Lambda" and row.generation_id == r.df.generation_id[0]
    assert row.native_tokens_completion == r.df.completion_tokens[0] and row.cost == pytest.approx(r.df.cost[0])
    asked = [q for q in server.requests if q.path.endswith("/generation")]
    assert len(asked) >= 3  # 404 (wait=0), then 404 until ready, then the stats: retried, not failed


def test_stats_of_a_sweep_share_one_deadline(server):
    server.generation_delay = 30
    r = sweep("hi", LLAMA, samples=3)
    assert r.stats(wait=0.3)["status"].tolist() == ["not ready"] * 3


def test_a_result_made_by_hand_cannot_fetch_stats():
    with pytest.raises(AttributeError, match="no server to ask"):
        Result([]).stats()


def scripted(provider, texts, seed=1, tokens=True, temperature=None):
    runs = []
    for sample, text in enumerate(texts):
        params = {"seed": seed} if seed is not None else {}
        if temperature is not None:
            params["temperature"] = temperature
        spec = RunSpec(model=LLAMA, prompt="hi", params=params, sample=sample)
        lp = TokenLogprobs(token=text.split("|"), logprob=[-0.1] * len(text.split("|"))) if tokens else None
        done = Completion(text=text.replace("|", ""), provider=provider, logprobs=lp)
        axes = {"provider": provider, "sample": sample, **({"temperature": temperature} if temperature else {})}
        runs.append(Run(spec=spec, axes=axes, completion=done))
    return runs


def test_determinism_numbers_per_group_and_provider():
    runs = (scripted("DeepInfra", ["A| cat|.", "A| cat|.", "A| cat|.", "A| cat|.", "A| cat|."])
            + scripted("Together", ["A| cat|.", "A| dog|.", "A| cat|.", "The| end", "A| dog|."], tokens=False))
    table = determinism_frame(runs, ["provider", "sample"])
    assert table.fillna({"first_divergence": -1}).to_dict("records") == [
        {"provider": "DeepInfra", "runs": 5, "exact_match_rate": 1.0, "distinct_outputs": 1,
         "first_divergence": -1, "divergence_unit": "token", "seeded": True},  # identical: no divergence
        {"provider": "Together", "runs": 5, "exact_match_rate": 0.4, "distinct_outputs": 3,
         "first_divergence": 0, "divergence_unit": "char", "seeded": True},
    ]


def test_determinism_groups_by_every_other_parameter():
    runs = (scripted("DeepInfra", ["x| y", "x| z"], seed=None, temperature=0.5)
            + scripted("DeepInfra", ["x| y", "x| y"], seed=None, temperature=1.5))
    table = determinism_frame(runs, ["temperature", "sample"]).fillna({"first_divergence": -1})
    assert table[["temperature", "provider", "runs", "first_divergence", "seeded"]].values.tolist() == [
        [0.5, "DeepInfra", 2, 1, False], [1.5, "DeepInfra", 2, -1, False]]


def test_determinism_of_a_real_provider_sweep(server):
    r = sweep("Tell me a story", LLAMA, seed=1, samples=4, temperature=1.5, provider="DeepInfra,Together",
              sweep_providers=True, max_tokens=12)
    table = r.determinism().set_index("provider")
    assert table.loc["DeepInfra", "exact_match_rate"] == 1.0 and table.loc["DeepInfra", "distinct_outputs"] == 1
    assert table.loc["Together", "distinct_outputs"] > 1  # Together ignores seed
    assert table["seeded"].all() and table["runs"].tolist() == [4, 4]
