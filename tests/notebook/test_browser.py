"""The --widgets panel in a real browser: JupyterLab on 127.0.0.1 driven by headless Chromium.

A temporary notebook runs a `--widgets` cell against this test run's local server (the kernel
inherits OPENROUTER_BASE_URL); the test changes the temperature and the seed in the page,
clicks Run, and checks both the request the server received and the text the page shows.
Debian's /usr/bin/chromium is used (downloading a browser does not work here; .ci/run installs
it).  A screenshot is saved to test-artifacts/.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

from tests.constants import FAKE_KEY, default_stream_fields

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TOKEN = "or-magic-browser-test"
MODEL = "openai/gpt-4o-mini"
PROMPT = "Name a colour."
STREAM = default_stream_fields()  # the setting's default decides
EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
WAIT_MS = 120_000  # generous: JupyterLab, a kernel and ipywidgets load on a shared 2-core machine


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PANEL_CELLS = ["%load_ext or_magic", f"%%openrouter {MODEL} --widgets -t 0.3 --seed 1 --max-tokens 12 -o r\n{PROMPT}"]


def write_notebook(path: Path, cells: list[str]) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, path)


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `predicate` until it returns something truthy (a wait, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _status_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=5) as answer:
            return answer.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def jupyterlab(tmp_path: Path, name: str = "widgets.ipynb", cells: list[str] = PANEL_CELLS,
               examples: bool = False) -> Iterator[str]:
    """JupyterLab serving a temporary directory with the test notebook `name` (or copies of the
    example notebooks); yields its base URL."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    if examples:
        for path in EXAMPLES:
            shutil.copy(path, notebooks / path.name)
    else:
        write_notebook(notebooks / name, cells)
    port = _free_port()
    # Settings, workspaces and runtime files of this JupyterLab stay in the temp dir.
    isolated = {name: str(tmp_path / name.lower()) for name in
                ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR")}
    env = {**os.environ, **isolated}
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}",
               f"--ServerApp.root_dir={notebooks}", "--LabApp.expose_app_in_browser=True",
               "--allow-root", "--ServerApp.terminals_enabled=False", "--LabApp.extension_manager=readonly",
               "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    log = open(tmp_path / "jupyterlab.log", "wb")
    process = subprocess.Popen(command, cwd=notebooks, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _status_ok(url) or process.poll() is not None, 120, "JupyterLab to start")
        if process.poll() is not None:
            pytest.fail(f"JupyterLab exited: {(tmp_path / 'jupyterlab.log').read_text()[-2000:]}")
        yield url
    finally:
        _stop_lab(url, process)
        log.close()


def _stop_lab(url: str, process: subprocess.Popen) -> None:
    """Shut the kernels down through the API, then the server itself."""
    try:
        headers = {"Authorization": f"token {TOKEN}"}
        for kernel in httpx.get(f"{url}/api/kernels", headers=headers, timeout=10).json():
            httpx.delete(f"{url}/api/kernels/{kernel['id']}", headers=headers, timeout=30)
    except (httpx.HTTPError, ValueError):
        pass
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()


def require_chromium() -> None:
    """A missing browser fails the test (it must run in CI), with the fix in the message."""
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); "
                    ".ci/run does this in CI")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.fail("playwright is not installed: pip install -e '.[test]'")


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def expected_text(server: Any, body: dict[str, Any]) -> str:
    """What the server answers for this body (deterministic when a seed is set, streamed or not)."""
    unstreamed = {k: v for k, v in body.items() if k != "stream"}
    answer = httpx.post(f"{server.base_url}/chat/completions", json=unstreamed,
                        headers={"Authorization": f"Bearer {FAKE_KEY}"}, timeout=30)
    return answer.json()["choices"][0]["message"]["content"]


def chat_bodies(server: Any) -> list[dict[str, Any]]:
    return [r.body for r in server.requests if r.path.endswith("/chat/completions")]


def _set_slider(page: Any, css: str, value: str) -> None:
    """Type into a slider's editable readout, as a user can."""
    readout = page.locator(f"{css} .widget-readout")
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(value)
    page.keyboard.press("Enter")


def open_and_run_all(page: Any, lab: str, name: str, wait: bool = True) -> None:
    """Open notebook `name` in JupyterLab, wait for its kernel, and run every cell; with `wait`,
    return when the cells have run (the command's promise), else at once (to watch a cell run)."""
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{lab}/lab/tree/{name}?token={TOKEN}")
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                           " && window.jupyterapp.shell.currentWidget.sessionContext"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel")
    run = "window.jupyterapp.commands.execute('notebook:run-all-cells')"
    page.evaluate(f"() => {run}" if wait else f"() => {{ void {run}; }}")


def test_panel_in_jupyterlab_reruns_with_new_temperature_and_seed(tmp_path, server):
    require_chromium()
    with jupyterlab(tmp_path) as lab, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            drive_the_panel(page, lab, server)
        except Exception:
            ARTIFACTS.mkdir(exist_ok=True)  # what the page showed when it failed, for CI logs
            page.screenshot(path=str(ARTIFACTS / "widgets-panel-failure.png"), full_page=True)
            raise


def drive_the_panel(page: Any, lab: str, server: Any) -> None:
    from playwright.sync_api import expect

    open_and_run_all(page, lab, "widgets.ipynb")

    panel = page.locator(".or-magic-panel")
    panel.wait_for(state="visible")
    first = {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}], "temperature": 0.3, "seed": 1,
             "max_tokens": 12, **STREAM}
    wait_until(lambda: first in chat_bodies(server), 60, "the first run's request")
    first_text = " ".join(expected_text(server, first).split())
    page.locator(".or-magic-output").filter(has_text=first_text[:30]).wait_for()
    page.locator(".or-magic-runs tbody tr").first.wait_for()

    _set_slider(page, ".or-magic-temperature", "1.5")
    seed = page.locator(".or-magic-seed input")
    seed.fill("123")
    seed.press("Enter")
    page.locator(".or-magic-run").click()

    second = {**first, "temperature": 1.5, "seed": 123}
    wait_until(lambda: second in chat_bodies(server), 60, f"a request with {second}")
    second_text = " ".join(expected_text(server, second).split())
    assert second_text != first_text
    output = page.locator(".or-magic-output")
    expect(output).to_contain_text(second_text[:30], timeout=WAIT_MS)
    assert first_text[:30] not in " ".join(output.inner_text().split())
    rows = page.locator(".or-magic-runs tbody tr")
    expect(rows).to_have_count(2, timeout=WAIT_MS)
    assert "1.5" in rows.first.inner_text() and "123" in rows.first.inner_text()
    assert "run 2 done" in page.locator(".or-magic-status").inner_text()

    ARTIFACTS.mkdir(exist_ok=True)
    panel.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "widgets-panel.png"), full_page=True)
    assert page.locator(".or-magic-error").count() == 0


def test_each_example_notebook_runs_in_jupyterlab_and_is_screenshotted(tmp_path, server):
    """Run All in the browser, as a person would; a screenshot per notebook goes to test-artifacts/
    (look at them: that is the point), and no cell may show an error it does not expect."""
    require_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    with jupyterlab(tmp_path, examples=True) as lab, chromium() as browser:
        for path in EXAMPLES:
            # tall, so JupyterLab renders (and the screenshot holds) every cell
            page = browser.new_page(viewport={"width": 1280, "height": 7000})
            page.set_default_timeout(WAIT_MS)
            try:
                run_all(page, lab, path.name)
                errors = page.locator(".jp-Cell:not(.jp-mod-noOutputs) .jp-RenderedText[data-mime-type="
                                      "'application/vnd.jupyter.stderr']").all_inner_texts()
                unexpected = [e for e in errors if "Error" in e and "--temperature 3: must be [0, 2]" not in e]
                assert not unexpected, f"{path.name}: {unexpected}"
                assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
                                    " .ansi-red-fg").count() == 0 or path.name == "quickstart.ipynb"
            finally:
                page.screenshot(path=str(ARTIFACTS / f"notebook-{path.stem}.png"), full_page=True)
                # the next notebook gets the CPU: stop this one's kernel
                page.evaluate("() => window.jupyterapp.shell.currentWidget?.sessionContext?.shutdown()")
                page.close()


def run_all(page: Any, lab: str, name: str) -> None:
    # a fresh workspace per notebook: only this notebook's tab is open (no hidden cells of others)
    page.goto(f"{lab}/lab/workspaces/{Path(name).stem}/tree/{name}?reset&token={TOKEN}")
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                           " && window.jupyterapp.shell.currentWidget.sessionContext"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel")
    page.evaluate("() => window.jupyterapp.commands.execute('editmenu:clear-all')")
    # resolves when every cell has run (a raises-exception cell does not stop the run)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"
                           " === 'idle'")
    page.wait_for_timeout(1500)  # let the last outputs paint before the screenshot (not an assertion)
