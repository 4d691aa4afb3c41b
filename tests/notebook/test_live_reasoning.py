"""Reasoning shown set apart while it streams (dimmed, open) and collapsed in the final rendering."""

from or_magic.api import complete
from or_magic.notebook.live import KernelBackend, LiveText, TerminalBackend

R1 = "deepseek/deepseek-r1"


def test_kernel_shows_reasoning_open_and_dimmed_above_the_answer():
    updates = []

    class Handle:
        display_id = "abc"

    backend = KernelBackend(display=lambda data, **kw: Handle(), update=lambda data, **kw: updates.append(data),
                            clear=lambda **kw: None)
    live = LiveText(backend, interval=0)
    live.reasoning("Let me <think>")
    live("Hi")
    last = updates[-1]
    assert last["text/plain"] == "[reasoning] Let me <think>\n\nHi"
    assert last["text/html"].startswith("<details open>") and "Let me &lt;think&gt;" in last["text/html"]
    assert "font-style: italic" in last["text/html"] and last["text/html"].endswith("Hi</div>")
    assert live.text == "Hi" and live.thought == "Let me <think>"  # the answer's text stays the answer's


def test_terminal_writes_reasoning_faint_then_the_answer_on_its_own_line():
    out = []
    live = LiveText(TerminalBackend(write=out.append), interval=0)
    live.reasoning("hmm ")
    live.reasoning("ok")
    live("Hi")
    assert "".join(out) == "\x1b[2m[reasoning] hmm ok\x1b[0m\n\nHi"


def test_streamed_reasoning_reaches_the_live_display_and_the_final_rendering_collapses_it(server, shell, capsys):
    r = shell.run(f"%%openrouter {R1} --reasoning-effort low --max-tokens 8\nhello")
    out = capsys.readouterr().out
    assert out.startswith("\x1b[2m[reasoning] Let me think about what is asked. The \x1b[0m\n\n" + r.text)
    page = r._repr_html_()
    assert page.startswith('<details><summary style="color: #888">reasoning (8 tokens)</summary>')
    assert r.text in page


def test_an_answer_without_reasoning_renders_as_before(server):
    r = complete("hello", "openai/gpt-4o-mini", stream=False, max_tokens=5)
    assert "<details" not in r._repr_html_()
