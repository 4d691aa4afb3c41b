"""`%%openrouter ... --resume [ID]` and `%openrouter sweeps [--all]`."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from or_magic import complete
from or_magic.notebook.magics import SUBCOMMANDS, OpenRouterMagics
from or_magic.notebook.options import HELP, parse_line

CHAT = "openai/gpt-4o-mini"


def interrupted_sweep(server, n=20, after=4):
    """A sweep stopped by Ctrl-C after `after` runs (the same runs as `--seed 0:{n-1} --max-tokens 2`)."""
    server.latency = 0.1  # several 0.25 s batches: the interrupt lands mid-sweep
    seen = []

    def hook(run):
        seen.append(run)
        if len(seen) == after:
            raise KeyboardInterrupt

    r = complete("hi", CHAT, seed=list(range(n)), max_tokens=2, concurrency=2, on_done=hook, progress=False)
    return r, sum(run.ok for run in r.runs)


def completions(server):
    return [r for r in server.requests if r.path.endswith("completions")]


def test_sweeps_lists_an_interrupted_sweep_and_not_a_finished_one(shell, server, home, capsys):
    assert shell.run("%openrouter sweeps") is None
    assert "no sweep has runs left" in capsys.readouterr().out
    cut, finished = interrupted_sweep(server)
    whole = shell.run(f"%%openrouter {CHAT} --temperature 0,1 --max-tokens 2\nhi")
    table = shell.run("%openrouter sweeps")
    assert table["sweep"].tolist() == [cut.sweep_id]
    row = table.iloc[0]
    assert (row["size"], row["finished"], row["failed"], row["missing"]) == (20, finished, 0, 20 - finished)
    assert row["models"] == CHAT and row["resume"] == f"or_magic.resume({cut.sweep_id!r})"
    assert shell.run("%openrouter sweeps --all")["sweep"].tolist() == [whole.sweep_id, cut.sweep_id]
    with pytest.raises(UsageError, match="takes only --all"):
        shell.run("%openrouter sweeps --bogus")


def test_resume_from_the_magic_sends_only_the_missing_runs(shell, server, home):
    cut, finished = interrupted_sweep(server)
    server.clear()
    r = shell.run(f"%%openrouter {CHAT} --seed 0:19 --max-tokens 2 --resume -o r\nhi")
    assert len(completions(server)) == 20 - finished
    assert r is shell.ns["r"] and r.sweep_id == cut.sweep_id and len(r.df) == 20 and r.df["error"].isna().all()
    assert any(note.startswith(f"resumed sweep {cut.sweep_id}: {finished} of 20") for note in r.notes)
    assert shell.run("%openrouter sweeps") is None  # nothing left unfinished
    server.clear()
    again = shell.run(f"%%openrouter {CHAT} --seed 0:19 --max-tokens 2 --resume {cut.sweep_id}\nhi")
    assert completions(server) == [] and again.df["text"].tolist() == r.df["text"].tolist()


def test_resume_refusals_are_usage_errors_before_anything_is_sent(shell, server, home):
    cut, _ = interrupted_sweep(server)
    server.clear()
    with pytest.raises(UsageError, match=r"max_tokens: 2 then, 3 now"):
        shell.run(f"%%openrouter {CHAT} --seed 0:19 --max-tokens 3 --resume {cut.sweep_id}\nhi")
    with pytest.raises(UsageError, match="looks like a model id"):
        shell.run(f"%%openrouter --resume {CHAT}\nhi")
    assert completions(server) == []


def test_help_names_resume_and_the_sweeps_subcommand():
    assert "sweeps" in SUBCOMMANDS
    doc = OpenRouterMagics.openrouter.__doc__
    assert "--resume [SWEEP_ID]" in HELP and "%openrouter sweeps [--all]" in doc
    assert "failed, cancelled and budget-skipped runs are sent again" in " ".join(HELP.split())
    assert parse_line("m --seed 1:3 --resume").resume is True
    assert parse_line("m --seed 1:3 --resume sw-1a2b3c4d").resume == "sw-1a2b3c4d"
    assert parse_line("m --seed 1:3").resume is False
