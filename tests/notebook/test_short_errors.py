"""Short errors in a real Jupyter kernel: an API or connection error is two lines, the cell fails,
and %tb still shows the full traceback."""

from __future__ import annotations

import re

import nbformat.v4 as v4
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from or_magic import CreditsError
from or_magic.notebook.shorterrors import TB_HINT, short_lines

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _error_lines(output) -> list[str]:
    return ANSI.sub("", "\n".join(output.traceback)).splitlines()


def _run(cells: list[str]):
    nb = v4.new_notebook(cells=[v4.new_code_cell(c) for c in ["%load_ext or_magic", *cells]])
    NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True).execute()
    return nb


def test_api_and_connection_errors_are_two_lines_and_the_cell_fails(server):
    nb = _run(["%%openrouter test/error-402 --max-tokens 5\nhi",
               "%config OpenRouterMagics.base_url = 'http://127.0.0.1:9'\n"
               "%config OpenRouterMagics.max_retries = 0",
               "%%openrouter test/echo --max-tokens 5\nhi",
               "%tb",
               "%config OpenRouterMagics.short_errors = False",
               "%%openrouter test/echo --max-tokens 5\nhi"])
    credits = [o for o in nb.cells[1].outputs if o.output_type == "error"]
    assert len(credits) == 1 and credits[0].ename == "CreditsError"
    lines = _error_lines(credits[0])
    assert len(lines) <= 2
    assert lines[0].startswith("CreditsError: HTTP 402: Insufficient credits")
    assert lines[0].count("https://openrouter.ai/settings/credits") == 1  # said once, not twice
    assert lines[1] == TB_HINT

    refused = [o for o in nb.cells[3].outputs if o.output_type == "error"]
    assert len(refused) == 1 and refused[0].ename == "TransportError"
    lines = _error_lines(refused[0])
    assert len(lines) <= 2 and "http://127.0.0.1:9" in lines[0] and "is the server running" in lines[0]

    # %tb: the full traceback of the last error, through or_magic's frames
    full = "".join(ANSI.sub("", o.get("text", "") + "\n".join(o.get("traceback", []))) for o in nb.cells[4].outputs)
    assert "Traceback" in full and "client.py" in full and "TransportError" in full

    # short_errors = False: IPython's full traceback again, in the cell itself
    long = [o for o in nb.cells[6].outputs if o.output_type == "error"]
    assert len(long) == 1 and len(_error_lines(long[0])) > 5


def test_run_all_stops_at_the_failed_cell(server):
    nb = v4.new_notebook(cells=[v4.new_code_cell("%load_ext or_magic"),
                                v4.new_code_cell("%%openrouter test/error-402 --max-tokens 5\nhi"),
                                v4.new_code_cell("after = 1")])
    with pytest.raises(CellExecutionError, match="CreditsError"):
        NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    assert nb.cells[2].get("execution_count") is None  # never ran


def test_the_error_object_is_unchanged_for_python_callers():
    error = CreditsError(402, "no credits left")
    assert str(error) == "HTTP 402: no credits left — add credits at https://openrouter.ai/settings/credits " \
                         "or lower --max-tokens"
    assert error.status == 402 and isinstance(error, CreditsError)
    assert short_lines(CreditsError(402, "two\nlines"))[0].endswith("HTTP 402: two lines — add credits at "
                                                                    "https://openrouter.ai/settings/credits or "
                                                                    "lower --max-tokens")
