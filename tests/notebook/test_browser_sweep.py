"""A rate-limited sweep in a real browser: while it runs, JupyterLab shows tqdm's live notebook bar
(a progress widget whose label and bar advance as runs finish); when it ends, the bar is replaced
by its final plain-text line (done/total, elapsed, rate, failed count, cost) and no widget is left
in the output; the server saw the requests spaced by `--rate`.  Driven by headless Chromium (see
test_browser.py for the set-up); screenshots go to test-artifacts/sweep-live.png (mid-sweep) and
test-artifacts/sweep-progress.png (the end).

The cells are started without awaiting them (`wait=False`): JupyterLab's run-all command resolves
only when the cells have run, so a test awaiting it sees nothing but the final line (which is why
the live bar once seemed not to render here)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.notebook.test_browser import (
    ARTIFACTS,
    MODEL,
    chromium,
    jupyterlab,
    open_and_run_all,
    require_chromium,
    wait_until,
)
from tests.run.test_rate import assert_spaced

pytestmark = pytest.mark.browser

RUNS = 12
RATE = 1.0  # per second: the sweep lasts ~11 s, time enough to see the bar at two moments
CELLS = ["%load_ext or_magic", f"%%openrouter {MODEL} --seed 1:{RUNS} --max-tokens 4 --concurrency 4 --rate {RATE:g}/s\nhi"]

# The live bar's state in one read (it may vanish between two reads): its label text (tqdm writes
# figure spaces, U+2007, for spaces), the filled fraction of the bar, and whether the cell is still
# running ("[*]").  null when no progress widget is shown.
LIVE_BAR = """() => {
  const bar = document.querySelector('.jp-OutputArea .widget-hprogress');
  if (!bar) return null;
  const box = bar.parentElement, fill = bar.querySelector('.progress-bar'), track = bar.querySelector('.progress');
  const prompt = document.querySelectorAll('.jp-Cell .jp-InputPrompt')[1];
  return {text: box.innerText, fraction: fill.getBoundingClientRect().width / track.getBoundingClientRect().width,
          visible: bar.getBoundingClientRect().width > 0, running: prompt.innerText.includes('*')};
}"""


def _live(page: Any, more_than: int) -> dict[str, Any] | None:
    """The live bar, if shown and visible mid-sweep with more than `more_than` (and fewer than all)
    runs done; its `done` count parsed from the label."""
    state = page.evaluate(LIVE_BAR)
    if not state or not state["visible"] or not state["running"]:
        return None
    text = " ".join(state["text"].replace("\u2007", " ").split())
    found = re.search(rf"^sweep: +(\d+)% (\d+)/{RUNS} \[", text)
    assert found, text
    done = int(found[2])
    assert found[1] == f"{100 * done / RUNS:.0f}", text  # tqdm's rounding
    return {**state, "text": text, "done": done} if more_than < done < RUNS else None


def test_rate_limited_sweep_shows_a_live_bar_that_advances_then_ends_as_its_final_line(tmp_path, server):
    require_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    with jupyterlab(tmp_path, "sweep.ipynb", CELLS) as lab, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            open_and_run_all(page, lab, "sweep.ipynb", wait=False)
            first = wait_until(lambda: _live(page, 0), 120, "the live bar with a run done")
            posts = sum(r.method == "POST" for r in server.requests)
            assert posts < RUNS, f"the sweep had already sent every request: {first}"
            page.screenshot(path=str(ARTIFACTS / "sweep-live.png"), full_page=True)
            later = wait_until(lambda: _live(page, first["done"]), 60, f"the live bar to pass {first['text']}")
            assert later["fraction"] > first["fraction"], (first, later)
            assert re.search(r"\[\d\d:\d\d<\d\d:\d\d, +[\d.]+(run/s|s/run), 0 failed · \$0\.\d+\]$", later["text"]), later

            final = page.locator(".jp-OutputArea-output pre").filter(has_text=f"{RUNS}/{RUNS} [")
            final.wait_for()
            text = final.inner_text()
            assert re.fullmatch(rf"sweep: 100%\|█{{10}}\| {RUNS}/{RUNS} \[\d\d:\d\d<00:00, +[\d.]+(run/s|s/run), "
                                r"0 failed · \$0\.\d+\]\s*", text), text
            wait_until(lambda: page.locator(".jp-OutputArea .widget-hprogress").count() == 0, 30, "no widget")
            page.locator(".jp-Cell .jp-InputPrompt").nth(1).filter(has_text=re.compile(r"\[\d+\]")).wait_for()
        finally:
            page.screenshot(path=str(ARTIFACTS / "sweep-progress.png"), full_page=True)
    times = sorted(r.at for r in server.requests if r.method == "POST")
    assert len(times) == RUNS
    assert_spaced(times, 1 / RATE)  # on the server's clock
