"""The logic behind the `--widgets` panel, free of any UI: values in, a Result out.

`run_with(prompt, base, settings, variables, model=..., temperature=..., ...)` is the plain
function of keyword arguments the panel calls; `widgets.py` only maps widget values onto its
keywords.  `RunGate` decides *when* that function runs: debounced after the last change and
never more than one request in flight per panel.  `RunLog` is the panel's list of runs, as a
DataFrame and as the small table shown under the controls.
"""

from __future__ import annotations

import dataclasses
import html
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping

from ..core.errors import InvalidOption
from ..core.money import format_cost
from ..core.params import PARAMS, check_params
from ..run.call import CallOptions
from ..run.request import Usage
from ..wire.stream import TextHook

if TYPE_CHECKING:
    import pandas as pd

    from ..analysis.result import Result
    from ..core.settings import Settings

# The request parameters the panel has a control for, in display order.
CONTROLLED: tuple[str, ...] = ("temperature", "top_p", "seed", "max_tokens", "logprobs")

# Where an unset control rests until the user moves it: the API's documented defaults (and a
# modest token budget).  These are starting positions, not bounds: bounds come from PARAMS.
REST_POSITION: dict[str, Any] = {"temperature": 1.0, "top_p": 1.0, "seed": 0, "max_tokens": 256}



def initial_values(options: CallOptions, default_model: str) -> dict[str, Any]:
    """The panel's starting values from a parsed line: the first model and each controlled
    parameter's first value (None when the line did not set it)."""
    if len(options.models) > 1:
        raise InvalidOption(f"--widgets shows one model at a time, but the line names {len(options.models)}: "
                            "name one (the panel's model list has the others)")
    values: dict[str, Any] = {"model": (options.models or [default_model])[0]}
    for name in CONTROLLED:
        given = options.params.get(name)
        if given and len(given) > 1:
            raise InvalidOption(f"{PARAMS[name].flag} {','.join(map(str, given))}: --widgets sets one value at "
                                "a time; give one value (sweeps work without --widgets)")
        values[name] = given[0] if given else None
    # --top-logprobs implies logprobs, so the switch starts on for it too.
    values["logprobs"] = bool(values["logprobs"]) or "top_logprobs" in options.params
    return values


def panel_options(base: CallOptions, model: str, values: Mapping[str, Any]) -> CallOptions:
    """`base` with the panel's model and values; None (or a False switch) leaves a parameter out."""
    chosen = {name: value for name, value in values.items() if value is not None and value is not False}
    checked = check_params(chosen)  # bad values are an InvalidOption, before anything is sent
    params = {name: list(v) for name, v in base.params.items() if name not in CONTROLLED}
    if not chosen.get("logprobs"):
        params.pop("top_logprobs", None)  # the switch turned off means no logprobs at all
    params.update({name: [value] for name, value in checked.items()})
    return dataclasses.replace(base, models=[model.strip()] if model and model.strip() else [], params=params)


def run_with(prompt: str, base: CallOptions, settings: "Settings", variables: Mapping[str, Any], *,
             model: str, on_text: TextHook | None = None, **values: Any) -> "Result":
    """One panel run: the cell text sent with these values (wire names) through `api.run_call`.

    `on_text` receives each new piece of text of a streamed run.
    """
    from .. import api

    unknown = set(values) - set(CONTROLLED)
    if unknown:
        raise TypeError(f"run_with() got unexpected parameters {sorted(unknown)}; the panel controls {CONTROLLED}")
    options = panel_options(base, model, values)
    return api.run_call(prompt, options, settings, variables, on_text=on_text)


Timer = Callable[..., Any]  # threading.Timer's signature: (interval, function, args=())


class RunGate:
    """Runs `action` debounced and single-flight.

    `request(delay)` (re)starts a timer: only the last request within `delay` seconds fires.
    When it fires while a run is in flight, one more run follows that run (with the values of
    that moment) instead of a second concurrent request.  `action` must not raise; the panel's
    action shows its own errors.  `timer` is injectable so tests drive the clock themselves.
    """

    def __init__(self, action: Callable[[], None], delay: float = 0.3, timer: Timer = threading.Timer) -> None:
        self.action = action
        self.delay = delay
        self._timer_factory = timer
        self._timer: Any = None
        self._generation = 0
        self._busy = False
        self._again = False
        self._idle = threading.Condition()

    def request(self, delay: float | None = None) -> None:
        """Ask for a run `delay` seconds from now (default: the debounce delay)."""
        with self._idle:
            if self._timer is not None:
                self._timer.cancel()
            self._generation += 1
            self._timer = self._timer_factory(self.delay if delay is None else delay, self._fire,
                                              args=(self._generation,))
            self._timer.daemon = True  # a pending auto-run must not keep the kernel alive
            self._timer.start()

    def run_now(self) -> None:
        """Run in the calling thread (or after the run in flight), as a fired timer would."""
        with self._idle:
            if self._timer is not None:
                self._timer.cancel()
            self._generation += 1  # a pending timer is now superseded
            generation = self._generation
        self._fire(generation)

    def _fire(self, generation: int) -> None:
        with self._idle:
            if generation != self._generation:
                return  # superseded by a later request: that one's timer will fire
            self._timer = None
            if self._busy:
                self._again = True
                return
            self._busy = True
        self._loop()

    def _loop(self) -> None:
        again = True
        while again:
            try:
                self.action()
            finally:
                with self._idle:  # decide and release in one step, so no second loop can start between
                    again, self._again = self._again, False
                    if not again:
                        self._busy = False
                        self._idle.notify_all()

    @property
    def idle(self) -> bool:
        with self._idle:
            return not self._busy and self._timer is None

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until no run is pending or in flight; False if `timeout` passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._busy and self._timer is None, timeout)


class RunLog:
    """The runs one panel made: parameters, first words of the text, tokens, cost, error."""

    COLUMNS = ["run", "model", *CONTROLLED, "text", "prompt_tokens", "completion_tokens", "cost",
               "seconds", "error"]
    PREVIEW_WORDS = 8

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, values: Mapping[str, Any], result: "Result | None" = None,
            error: BaseException | None = None, seconds: float | None = None) -> dict[str, Any]:
        row = {"run": len(self.rows) + 1, **{k: values.get(k) for k in ("model", *CONTROLLED)}}
        answered = [r.completion.model for r in result.runs if r.completion and r.completion.model] if result else []
        if answered:  # the model that answered, as the footer shows (openrouter/auto, a local server)
            row["model"] = answered[0]
        row.update(_outcome(result, error))
        row["seconds"] = None if seconds is None else round(seconds, 3)
        self.rows.append(row)
        return row

    def frame(self) -> "pd.DataFrame":
        import pandas as pd

        counts = {name: "Int64" for name in ("run", "seed", "max_tokens", "prompt_tokens", "completion_tokens")}
        return pd.DataFrame(self.rows, columns=self.COLUMNS).astype(counts)  # NA, not NaN floats

    def html(self) -> str:
        """The table shown under the controls (latest run first)."""
        if not self.rows:
            return ""
        # Header words spaced ("completion tokens") and padded cells: without a notebook's table
        # CSS (widget HTML gets none) the headers otherwise run together.
        head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in self.COLUMNS if c != "error")
        body = "".join(_html_row(row, self.COLUMNS) for row in reversed(self.rows))
        return (f'<style>{_CELLS}</style><div style="overflow-x: auto">'
                f'<table class="or-magic-runs" style="font-size: 85%; border-collapse: collapse">'
                f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


def _outcome(result: "Result | None", error: BaseException | None) -> dict[str, Any]:
    """The text preview, token counts and cost of a run (summed when the line made a sweep)."""
    if result is None:
        return {"text": "", "prompt_tokens": None, "completion_tokens": None, "cost": None,
                "error": f"{type(error).__name__}: {error}" if error is not None else None}
    usage = Usage.of(result.runs)
    words = result.text.split()
    preview = " ".join(words[:RunLog.PREVIEW_WORDS]) + (" …" if len(words) > RunLog.PREVIEW_WORDS else "")
    failed = [str(e) for e in result.errors]
    return {"text": preview, "prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
            "cost": usage.cost, "error": "; ".join(failed) or None}


# Headers and numbers on one line, only the text preview wraps, and a wide table scrolls inside the
# panel instead of being cut off at its right edge.
_CELLS = (".or-magic-runs th, .or-magic-runs td { padding: 2px 8px; text-align: left; vertical-align: top;"
          " border-bottom: 1px solid #eee; white-space: nowrap; line-height: 1.35 }"
          " .or-magic-runs td.or-magic-text { white-space: normal; min-width: 16em; max-width: 28em }")


def _html_row(row: Mapping[str, Any], columns: list[str]) -> str:
    cells = []
    for name in columns:
        if name == "error":
            continue
        value = row.get(name)
        if name == "text" and row.get("error"):
            value = f"error: {row['error']}"
        shown = format_cost(value) if name == "cost" and row.get("error") is None else value
        kind = ' class="or-magic-text"' if name == "text" else ""
        cells.append(f"<td{kind}>{html.escape('' if shown is None else str(shown))}</td>")
    return "<tr>" + "".join(cells) + "</tr>"


def timed(call: Callable[[], Any]) -> tuple[Any, BaseException | None, float]:
    """(value, None, seconds) or (None, error, seconds): a run's outcome without raising."""
    started = time.perf_counter()
    try:
        return call(), None, time.perf_counter() - started
    except Exception as exc:  # the panel shows every failure instead of losing its callback
        return None, exc, time.perf_counter() - started
