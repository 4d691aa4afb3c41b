"""map_rows against the local server: the partition comes back whole, with its answers in row order;
failures are rows; bad input fails before anything is sent; the task function pickles; each
partition records to its own history file."""

from __future__ import annotations

import functools
import json
import pickle
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

import or_magic
from or_magic.api.mapping import RESULT_DTYPES, history_file, partition_identity, result_columns
from or_magic.core.errors import InvalidOption
from tests.constants import FAKE_KEY

MODEL = "openai/gpt-4o-mini"
PROMPT = "Name a fruit for {city} (row {n}); keep {{braces}} and {\"json\": 1}"
OPTIONS = {"model": MODEL, "temperature": 0, "max_tokens": 6}


def frame(rows: int = 6, start: int = 0) -> pd.DataFrame:
    # an index that is neither sorted nor positional, to catch any reordering or reset
    labels = [f"k{(i * 7) % 11}-{i}" for i in range(start, start + rows)]
    return pd.DataFrame({"city": [f"city{i}" for i in range(start, start + rows)], "n": range(start, start + rows),
                         "unused": [[i] for i in range(rows)]}, index=labels)


def completions(server) -> list:
    return [r for r in server.requests if r.method == "POST" and r.path.endswith("completions")]


def history_rows(path: Path) -> list[tuple[str, str | None, str | None]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT request, text, error FROM runs ORDER BY id").fetchall()


def test_rows_keep_index_order_and_input_columns_and_gain_the_result_columns(server, tmp_path):
    df = frame()
    out = or_magic.map_rows(df, PROMPT, history_dir=str(tmp_path), concurrency=4, **OPTIONS)
    assert list(out.index) == list(df.index)
    assert list(out.columns) == list(df.columns) + list(RESULT_DTYPES)
    pd.testing.assert_frame_equal(out[list(df.columns)], df)
    assert out["error"].isna().all() and (out["finish_reason"] == "length").all()
    assert out["prompt_tokens"].dtype == "Int64" and (out["completion_tokens"] > 0).all()
    # each row holds the answer to its own prompt: the partition's history file pairs each request
    # (the filled prompt) with the text that came back, recorded before map_rows returned
    (path,) = tmp_path.glob("map-*.db")
    assert path == history_file(str(tmp_path), partition_identity(df, PROMPT, OPTIONS))
    sent = {json.loads(request)["messages"][-1]["content"]: text for request, text, _ in history_rows(path)}
    assert len(sent) == len(df) == len(completions(server))
    for label, row in out.iterrows():
        prompt = f"Name a fruit for {row.city} (row {row.n}); keep {{braces}} and {{\"json\": 1}}"
        assert sent[prompt] == row.text, label


def test_duplicate_index_labels_keep_each_row_its_own_answer(server, tmp_path):
    df = pd.DataFrame({"city": ["a", "b", "c", "d"], "n": [1, 2, 3, 4]}, index=[5, 5, 1, 5])
    out = or_magic.map_rows(df, "{city}:{n}", history_dir=str(tmp_path), concurrency=4, **OPTIONS)
    assert list(out.index) == [5, 5, 1, 5] and out["city"].tolist() == ["a", "b", "c", "d"]
    assert out["text"].nunique() == 4  # four prompts, four different answers: a swap would show
    # the fake server's temperature-0 answer depends on the prompt only: each row's answer is the
    # one a lone complete() of that row's prompt gets
    for (_, row), text in zip(df.iterrows(), out["text"]):
        assert or_magic.complete(f"{row.city}:{row.n}", settings=or_magic.Settings(history=False),
                                 stream=False, **OPTIONS).text == text


def test_a_failed_row_is_a_row_with_its_error_not_an_exception(server, tmp_path):
    df = frame(4)
    server.fail_next(400)  # concurrency 1: the first row's request is the one that fails
    out = or_magic.map_rows(df, PROMPT, history_dir=str(tmp_path), concurrency=1, **OPTIONS)
    assert list(out.index) == list(df.index)
    assert out["error"].notna().tolist() == [True, False, False, False]
    # as in the runs table: a failed run has no text and no token counts
    assert "400" in out["error"].iloc[0] and not out["text"].iloc[0] and pd.isna(out["prompt_tokens"].iloc[0])
    assert out["text"].iloc[1:].notna().all()
    # a one-row partition (complete() alone would raise for its single failed run) is a row too
    server.fail_next(400)
    one = or_magic.map_rows(df.iloc[:1], PROMPT, history_dir=str(tmp_path), **OPTIONS)
    assert one["error"].notna().all() and list(one.index) == list(df.index[:1])


def test_the_task_function_and_a_partial_of_it_pickle_without_the_key(server, tmp_path):
    assert pickle.loads(pickle.dumps(or_magic.map_rows)) is or_magic.map_rows
    task = functools.partial(or_magic.map_rows, prompt=PROMPT, history_dir=str(tmp_path), **OPTIONS)
    blob = pickle.dumps(task)
    assert FAKE_KEY.encode() not in blob  # the key is read where the request is made, never an argument
    out = pickle.loads(blob)(frame(3))
    assert out["text"].notna().all() and len(completions(server)) == 3


@pytest.mark.parametrize("prompt, options, why", [
    ("About {town}", {}, "{town} names no column; the columns are city, n, unused"),
    ("About nothing in particular", {}, "the prompt reads no column"),
    ("   ", {}, "the prompt is empty"),
    (PROMPT, {"temperature": [0, 1]}, "temperature=[0, 1] is a sweep axis"),
    (PROMPT, {"model": [MODEL, "anthropic/claude-3.5-haiku"]}, "names several models"),
    (PROMPT, {"samples": 3}, "samples= is not supported"),
    (PROMPT, {"sweep_vars": {"x": [1, 2]}}, "sweep_vars= is not supported"),
    (PROMPT, {"chat": "c"}, "chat= is not supported"),
    (PROMPT, {"settings": or_magic.Settings(history_path="/tmp/one.db")}, "give history_dir="),
    (PROMPT, {"temperature": 5}, "--temperature 5: must be [0, 2]"),
    (PROMPT, {"tempreature": 0.5}, "unknown parameter 'tempreature'"),
])
def test_bad_input_is_a_one_line_error_before_anything_is_sent(server, tmp_path, prompt, options, why):
    with pytest.raises(InvalidOption) as info:
        or_magic.map_rows(frame(), prompt, history_dir=str(tmp_path), **{"model": MODEL, **options})
    assert why in str(info.value) and "\n" not in str(info.value)
    assert server.requests == []  # not even the catalogue
    assert list(tmp_path.iterdir()) == []  # and no history file


def test_other_fields_come_from_variables_and_a_clashing_column_needs_a_prefix(server, tmp_path):
    df = frame(2).rename(columns={"n": "text"})
    with pytest.raises(InvalidOption, match="already has a column 'text'; pass prefix="):
        or_magic.map_rows(df, "{city} in {lang}", variables={"lang": "French"}, **OPTIONS)
    assert server.requests == []
    out = or_magic.map_rows(df, "{city} in {lang}", variables={"lang": "French"}, prefix="llm_",
                            history_dir=str(tmp_path), **OPTIONS)
    assert list(out.columns) == list(df.columns) + ["llm_" + c for c in RESULT_DTYPES]
    assert out["text"].tolist() == df["text"].tolist() and out["llm_text"].notna().all()
    assert sorted(r.body["messages"][-1]["content"] for r in completions(server)) == ["city0 in French",
                                                                                      "city1 in French"]


def test_an_empty_partition_sends_nothing_and_every_partition_has_the_meta_columns_and_dtypes(server, tmp_path):
    options = {**OPTIONS, "top_logprobs": 2, "schema": "fruit"}
    meta = or_magic.map_rows_meta(frame(), PROMPT, **options)
    assert len(meta) == 0 and list(meta.columns) == list(frame().columns) + list(result_columns(PROMPT, **options))
    assert server.requests == []
    server.fail_next(400)  # a failed row must not turn Int64 into float or object into str
    out = or_magic.map_rows(frame(), PROMPT, history_dir=str(tmp_path), concurrency=1, **options)
    assert out.dtypes.to_dict() == meta.dtypes.to_dict()
    assert out["error"].notna().sum() == 1
    assert out["data"].iloc[1:].map(lambda d: isinstance(d, dict) and "fruit" in d).all()
    assert out["mean_logprob"].iloc[1:].notna().all()


def test_each_partition_records_to_its_own_file_and_a_rerun_finds_it(server, tmp_path):
    first, second = frame(3), frame(3, start=3)
    or_magic.map_rows(first, PROMPT, history_dir=str(tmp_path), **OPTIONS)
    or_magic.map_rows(second, PROMPT, history_dir=str(tmp_path), **OPTIONS)
    files = sorted(p.name for p in tmp_path.glob("map-*.db"))
    assert len(files) == 2 and all(len(history_rows(tmp_path / name)) == 3 for name in files)
    # the same partition again (concurrency and cache do not change what is sent, so not the file):
    # its temperature-0 rows are answered from its own history, nothing is sent
    server.clear()
    again = or_magic.map_rows(first, PROMPT, history_dir=str(tmp_path), cache=True, concurrency=2, **OPTIONS)
    assert completions(server) == [] and again["error"].isna().all()
    assert sorted(p.name for p in tmp_path.glob("map-*.db")) == files
    # another prompt or option is another identity, so another file
    assert partition_identity(first, PROMPT, OPTIONS) != partition_identity(first, PROMPT, {**OPTIONS, "seed": 1})
    assert partition_identity(first, PROMPT, OPTIONS) != partition_identity(first, PROMPT + ".", OPTIONS)
    assert partition_identity(first, PROMPT, OPTIONS) == partition_identity(first.copy(), PROMPT, OPTIONS)


def test_a_partition_run_again_resumes_sending_only_its_rows_without_an_answer(server, tmp_path):
    # temperature 0.9 and no seed: nothing could come from the cache; the rows are known by position
    options = {**OPTIONS, "temperature": 0.9}
    df = frame(6)
    server.fail_next(400, count=2)  # concurrency 1: the first two rows fail
    first = or_magic.map_rows(df, PROMPT, history_dir=str(tmp_path), concurrency=1, **options)
    assert first["error"].notna().tolist() == [True, True, False, False, False, False]
    server.clear()
    again = or_magic.map_rows(df, PROMPT, history_dir=str(tmp_path), concurrency=1, **options)
    sent = [r.body["messages"][-1]["content"] for r in completions(server)]
    assert sent == [PROMPT.replace("{city}", f"city{i}").replace("{n}", str(i)).replace("{{braces}}", "{braces}")
                    for i in range(2)]  # exactly the two failed rows, nothing else
    assert again["error"].isna().all() and list(again.index) == list(df.index)
    assert again["text"].iloc[2:].tolist() == first["text"].iloc[2:].tolist()  # the old answers, not new ones
    server.clear()  # a third run finds every row answered: nothing is sent
    third = or_magic.map_rows(df, PROMPT, history_dir=str(tmp_path), concurrency=1, **options)
    assert completions(server) == [] and third["text"].tolist() == again["text"].tolist()


def test_a_partition_history_reads_back_with_history_and_or_magic_never_imports_dask(server, tmp_path):
    import ast

    or_magic.map_rows(frame(2), PROMPT, history_dir=str(tmp_path), **OPTIONS)
    (path,) = tmp_path.glob("map-*.db")
    past = or_magic.history(settings=or_magic.Settings(history_path=str(path)))
    assert len(past) == 2 and past["error"].fillna("").eq("").all()  # the compact view shows no error as ""
    # dask is an optional extra: map_rows runs on a worker that has it, but nothing here imports it
    package = Path(or_magic.__file__).parent
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(name.split(".")[0] in ("dask", "distributed") for name in names), source


def test_partitions_in_threads_of_one_process_each_get_their_rows_and_their_file(server, tmp_path):
    # a Dask worker with several threads runs several partitions at once in one process
    from concurrent.futures import ThreadPoolExecutor

    server.latency = 0.02
    frames = [frame(8, start=8 * i) for i in range(3)]
    with ThreadPoolExecutor(3) as pool:
        outs = list(pool.map(lambda f: or_magic.map_rows(f, PROMPT, history_dir=str(tmp_path), concurrency=2,
                                                         **OPTIONS), frames))
    for f, out in zip(frames, outs):
        assert list(out.index) == list(f.index) and out["error"].isna().all()
    assert len(completions(server)) == 24 and len(list(tmp_path.glob("map-*.db"))) == 3
    assert server.max_in_flight <= 3 * 2  # in flight: threads × concurrency, as README says


def test_the_result_columns_are_the_runs_tables():
    from or_magic.analysis.frames import RUN_COLUMNS
    from or_magic.analysis.metrics import METRIC_COLUMNS
    from or_magic.api.mapping import METRIC_DTYPES

    assert list(RESULT_DTYPES) == RUN_COLUMNS and list(METRIC_DTYPES) == METRIC_COLUMNS
