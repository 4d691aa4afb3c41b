"""The example notebooks as saved (nbval re-executes them and compares with these outputs): no
unexpected error, no stale widget, error markers only where the error is the point, and every cell
that needs the test server says why it is skipped elsewhere."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
SCRIPTED = re.compile(r"test/(error-[\w-]+|nologprobs)")  # models only the test server scripts


def _code_cells(path: Path) -> list:
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def _raises(cell) -> bool:
    return "raises-exception" in cell.metadata.get("tags", []) or "NBVAL_RAISES_EXCEPTION" in cell.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_saved_notebook_has_no_unexpected_error_and_no_stale_widget(path):
    for cell in _code_cells(path):
        failed = [o for o in cell.outputs if o.output_type == "error"
                  or (o.output_type == "stream" and o.name == "stderr" and "Error" in o.text)]
        assert _raises(cell) == bool(failed), f"{path.name}: {cell.source[:60]!r} -> {failed}"
        saved = repr(cell.outputs)
        assert "HBox(children" not in saved and "IntProgress" not in saved, f"{path.name}: stale widget"
        # a live tqdm bar left in the outputs shows as its first state; the final line is at 100%
        assert not re.search(r"sweep: +\d{1,2}%\|(?![^\]]*interrupted)", saved), f"{path.name}: stale sweep bar"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_cell_magics_come_first_and_scripted_models_say_why_they_are_skipped(path):
    for cell in _code_cells(path):
        lines = cell.source.splitlines()
        # IPython reads `%%name` as a cell magic only on the first line
        assert not any(line.startswith("%%") for line in lines[1:]), f"{path.name}: {cell.source[:60]!r}"
        # (a --fallback-models cell is meant to succeed there: the next model answers)
        if SCRIPTED.search(cell.source) and "test/nologprobs" not in cell.source and "--fallback-models" not in cell.source:
            assert "skipped: only the test server" in cell.source, f"{path.name}: {cell.source[:60]!r}"
            # saved from the test server: there the cell shows its scripted error, not the skip line
            shown = "".join(o.get("text", "") for o in cell.outputs)
            assert "skipped" not in shown and "HTTP 4" in shown, f"{path.name}: {shown!r}"


def test_the_quickstart_error_cell_fails_with_the_range_error_it_promises(server):
    [cell] = [c for c in _code_cells(NOTEBOOKS[[p.name for p in NOTEBOOKS].index("quickstart.ipynb")]) if _raises(c)]
    assert cell.source.startswith("%%openrouter") and "--temperature 3" in cell.source
    assert "".join(o.text for o in cell.outputs) == "UsageError: --temperature 3: must be [0, 2]\n"
    # executed without the tag, the cell stops Run All, with that message
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("%load_ext or_magic"),
                                         nbformat.v4.new_code_cell(cell.source)])
    with pytest.raises(CellExecutionError, match=r"must be \[0, 2\]"):
        NotebookClient(nb, timeout=60, kernel_name="python3").execute()


def test_missing_logprobs_cell_explains_itself_on_any_server():
    [path] = [p for p in NOTEBOOKS if p.name == "logprobs.ipynb"]
    cells = _code_cells(path)
    at = next(i for i, c in enumerate(cells) if c.source.startswith("%%openrouter test/nologprobs"))
    follow = cells[at + 1]
    assert "test-server model that never does" in follow.source  # what a server with logprobs shows
    assert "".join(o.text for o in follow.outputs if o.output_type == "stream").startswith("no logprobs:")
