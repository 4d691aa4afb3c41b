"""--max-cost with variable prices ("-1", as OpenRouter lists openrouter/auto): no silent pass."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

import or_magic
from or_magic.core.errors import InvalidOption, RunSkipped


def test_unknown_prices_are_refused_without_an_explicit_yes(server):
    with pytest.raises(InvalidOption, match="openrouter/auto has variable or unknown prices.*--yes"):
        or_magic.sweep("hi", "openrouter/auto", seed=[1, 2, 3], max_tokens=5, max_cost=0.01, progress=False)
    assert not [r for r in server.requests if r.method == "POST"]


def test_the_magic_refuses_too(shell, server):
    with pytest.raises(UsageError, match="variable or unknown prices"):
        shell.run("%%openrouter openrouter/auto --seed 1:3 --max-tokens 5 --max-cost 0.01\nhi")


def test_accepted_unknown_prices_still_stop_on_the_real_cost(server):
    r = or_magic.sweep("hi", "openrouter/auto", seed=list(range(12)), max_tokens=5, max_cost=1e-9,
                       concurrency=1, yes=True, progress=False)
    ran = [run for run in r.runs if run.ok]
    skipped = [run for run in r.runs if isinstance(run.error, RunSkipped) and run.error.reason == "budget"]
    assert len(ran) == 1 and len(skipped) == 11
    assert any("variable prices" in note for note in r.notes)
