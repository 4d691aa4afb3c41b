"""map_rows on a real Dask cluster: two worker processes on loopback, against the local server."""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

import dask.dataframe as dd
import pandas as pd
from dask.distributed import Client, LocalCluster, get_task_stream

import or_magic

ROOT = Path(__file__).resolve().parents[2]
PROMPT = "One word for {city} (number {n})"
OPTIONS = {"model": "openai/gpt-4o-mini", "temperature": 0, "max_tokens": 4, "concurrency": 4}


def where_or_magic_is() -> str:  # run on each worker
    return or_magic.__file__


def test_map_partitions_on_a_local_cluster_with_two_worker_processes(server, tmp_path, monkeypatch):
    # The workers are spawned subprocesses: PYTHONPATH must be in the environment they start with
    # (Nanny's env= is applied only after the interpreter has started), the rest may come by env=.
    # multiprocessing's spawn reads __main__.__spec__; IPython's reset() (which an earlier test's
    # shell fixture calls) leaves the shell's __main__ module without one
    if not hasattr(sys.modules["__main__"], "__spec__"):
        monkeypatch.setattr(sys.modules["__main__"], "__spec__", None, raising=False)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    server.latency = 0.05  # each partition takes a little while (~0.15 s), so both workers get partitions
    pdf = pd.DataFrame({"city": [f"city{i}" for i in range(40)], "n": range(40)}, index=range(100, 140))
    ddf = dd.from_pandas(pdf, npartitions=4)
    history = tmp_path / "history"
    meta = or_magic.map_rows_meta(ddf, PROMPT, **OPTIONS)
    lazy = ddf.map_partitions(or_magic.map_rows, PROMPT, meta=meta, history_dir=str(history), **OPTIONS)

    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1", dashboard_address=":0",
                      env={"OPENROUTER_BASE_URL": server.base_url}) as cluster, Client(cluster) as client:
        client.wait_for_workers(2)
        assert set(client.run(where_or_magic_is).values()) == {str(ROOT / "or_magic" / "__init__.py")}
        with get_task_stream(client) as tasks:
            out = lazy.compute()
        pids = client.run(os.getpid)  # worker address → pid

    # every row, in order, with its answer
    assert list(out.index) == list(pdf.index)
    pd.testing.assert_frame_equal(out[["city", "n"]], pdf, check_dtype=False)  # dask stores text as arrow strings
    assert list(out.columns) == list(meta.columns)
    assert out["error"].isna().all() and out["text"].map(bool).all()
    # exactly one request per row, each row's own prompt
    sent = [r for r in server.requests if r.method == "POST" and r.path.endswith("/chat/completions")]
    assert len(sent) == 40
    assert sorted(r.body["messages"][-1]["content"] for r in sent) == sorted(
        PROMPT.format(city=c, n=n) for c, n in zip(pdf.city, pdf.n))
    # both worker processes ran partitions
    mapped = [t for t in tasks.data if isinstance(t["key"], tuple) and str(t["key"][0]).startswith("map_rows-")]
    assert len(mapped) == 4
    workers = {t["worker"] for t in mapped}
    assert len({pids[w] for w in workers}) == 2, mapped  # two distinct worker pids
    # one history file per partition, each holding its partition's ten rows
    files = sorted(history.glob("map-*.db"))
    assert len(files) == 4
    texts: dict[str, str] = {}
    for path in files:
        with sqlite3.connect(path) as db:
            rows = db.execute("SELECT request, text FROM runs WHERE error IS NULL").fetchall()
        assert len(rows) == 10
        texts.update({request: text for request, text in rows})
    assert len(texts) == 40 and sorted(texts.values()) == sorted(out["text"])
