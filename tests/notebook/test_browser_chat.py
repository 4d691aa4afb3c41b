"""Conversations in a real browser: the cell-id path.  JupyterLab sends each cell's id with its
execute request; editing the second question of a three-turn conversation and re-running that
cell must replace turn 2 (turn 3 is no longer sent), and the cell after it continues from the
new turn 2.  Driven by headless Chromium (see test_browser.py for the set-up)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.notebook.test_browser import (
    ARTIFACTS,
    MODEL,
    WAIT_MS,
    chat_bodies,
    chromium,
    expected_text,
    jupyterlab,
    open_and_run_all,
    require_chromium,
    wait_until,
)

pytestmark = pytest.mark.browser

LINE = f"%%openrouter {MODEL} --chat --no-stream --seed 1 --max-tokens 12"
QUESTIONS = ["Name a fruit.", "Its colour?", "A recipe with it?"]
EDITED = "Its colour in French?"
CELLS = ["%load_ext or_magic"] + [f"{LINE}\n{q}" for q in QUESTIONS]


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def test_rerunning_an_edited_cell_replaces_its_turn(tmp_path, server):
    require_chromium()
    with jupyterlab(tmp_path, "chat.ipynb", CELLS) as lab, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            edit_and_rerun(page, lab, server)
        except Exception:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "conversation-failure.png"), full_page=True)
            raise


def run_cell(page: Any, index: int) -> None:
    page.evaluate(f"""() => {{
        const panel = window.jupyterapp.shell.currentWidget;
        panel.content.activeCellIndex = {index};
        return window.jupyterapp.commands.execute('notebook:run-cell');
    }}""")


def edit_and_rerun(page: Any, lab: str, server: Any) -> None:
    open_and_run_all(page, lab, "chat.ipynb")
    wait_until(lambda: len(chat_bodies(server)) >= 3, 90, "the three turns' requests")
    first, second, third = chat_bodies(server)[:3]
    answer_1 = second["messages"][1]
    assert third["messages"] == [user(QUESTIONS[0]), answer_1, user(QUESTIONS[1]), third["messages"][3],
                                 user(QUESTIONS[2])]

    # edit the second question in its editor, as a person would, and re-run only that cell
    editor = page.locator(".jp-Notebook .jp-Cell").nth(2).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.press("Shift+Home")
    page.keyboard.type(EDITED)
    run_cell(page, 2)
    wait_until(lambda: len(chat_bodies(server)) >= 4, 60, "the re-run cell's request")
    rerun = chat_bodies(server)[3]
    assert rerun["messages"] == [user(QUESTIONS[0]), answer_1, user(EDITED)]  # turn 3 is not sent
    new_answer = expected_text(server, rerun)
    output = page.locator(".jp-Notebook .jp-Cell").nth(2).locator(".jp-OutputArea")
    from playwright.sync_api import expect

    expect(output).to_contain_text(" ".join(new_answer.split())[:20], timeout=WAIT_MS)

    run_cell(page, 3)  # the cell after it continues from the new turn 2
    wait_until(lambda: len(chat_bodies(server)) >= 6, 60, "the third cell's new request")
    after = [b for b in chat_bodies(server)[4:] if b["messages"][-1] == user(QUESTIONS[2])][-1]
    assert after["messages"] == [user(QUESTIONS[0]), answer_1, user(EDITED),
                                 {"role": "assistant", "content": new_answer}, user(QUESTIONS[2])]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "conversation.png"), full_page=True)
