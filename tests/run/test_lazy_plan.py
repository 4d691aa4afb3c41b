"""Plans are lazy: a grid costs nothing per run until a run is read, and reads like a list."""

from __future__ import annotations

import itertools

import pytest

from or_magic.core.settings import Settings
from or_magic.run.call import CallOptions
from or_magic.run.grid import MAX_GRID, plan_over_vars
from or_magic.run.request import LazyRuns
from or_magic.run.runner import plan_runs

CHAT = "openai/gpt-4o-mini"


def test_a_million_run_grid_is_planned_without_making_a_run():
    plan = plan_runs("hi", [CHAT], {"seed": range(MAX_GRID)})  # type: ignore[dict-item]
    assert isinstance(plan.runs, LazyRuns) and len(plan.runs) == MAX_GRID
    assert plan.runs.made == 0  # nothing per run exists yet: memory does not grow with the grid
    last = plan.runs[-1]
    assert last.index == MAX_GRID - 1 and last.spec.params["seed"] == MAX_GRID - 1 and last.axes == {"seed": MAX_GRID - 1}
    assert plan.runs[MAX_GRID - 1] is last and plan.runs.made == 1  # made once, then kept
    with pytest.raises(IndexError):
        plan.runs[MAX_GRID]


def test_prepare_of_a_million_run_call_makes_no_run():
    from or_magic.api.calls import prepare

    options = CallOptions(models=[CHAT], params={"seed": list(range(MAX_GRID))}, yes=True).check()
    plan, _ = prepare("hi {x}", options, Settings(base_url="http://127.0.0.1:9/api/v1"), {"x": 1})
    assert len(plan.runs) == MAX_GRID and plan.runs.made == 0  # type: ignore[attr-defined]


def test_lazy_runs_are_the_nested_loops_in_order():
    models = [CHAT, "anthropic/claude-3.5-haiku"]
    params = {"temperature": [0, 0.5, 1], "seed": [1, 2]}
    plan = plan_runs("hi", models, params, samples=2)
    expected = [(m, t, s, k) for m, t, s, k in itertools.product(models, [0, 0.5, 1], [1, 2], range(2))]
    got = [(r.spec.model, r.spec.params["temperature"], r.spec.params["seed"], r.spec.sample) for r in plan.runs]
    assert got == expected and [r.index for r in plan.runs] == list(range(len(expected)))
    assert plan.axes == ["model", "temperature", "seed", "sample"]
    assert plan.runs[3].axes == {"temperature": 0, "seed": 2, "sample": 1}
    assert [r.index for r in plan.runs[2:5]] == [2, 3, 4]  # slices too
    assert plan.runs[0].spec.extra is plan.runs[1].spec.extra  # shared, not one dict per run


def test_template_axes_join_lazily_and_keep_grid_positions():
    def plan_for(text):
        return plan_runs(text, [CHAT], {"seed": [1, 2, 3]})

    plan, missing = plan_over_vars("about {topic}", {}, {"topic": ["sea", "sky"]}, plan_for)
    assert len(plan.runs) == 6 and plan.runs.made == 0 and not missing  # type: ignore[attr-defined]
    assert sorted(set(plan.prompts)) == ["about sea", "about sky"]
    run = plan.runs[4]
    assert (run.index, run.spec.prompt, run.spec.params["seed"], run.axes) == (4, "about sky", 2, {"seed": 2, "topic": "sky"})
    assert [r.spec.variables["topic"] for r in plan.runs] == ["sea"] * 3 + ["sky"] * 3
    assert plan.axes == ["seed", "topic"]
