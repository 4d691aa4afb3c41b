"""The `--widgets` panel: controls above the output that re-run the cell text.

The only module that imports ipywidgets, and it is imported only when a panel is made.  It maps
widget values to the keyword arguments of `panel_logic.run_with` and shows what comes back; the
logic (what is sent, when, and the runs table) lives in `panel_logic.py`.  Every bound comes from
`params.PARAMS`, the table the option parser uses.
"""

from __future__ import annotations

import html
import threading
from typing import Any, Mapping, MutableMapping

import ipywidgets as w

from ..analysis.result import Result
from ..core.errors import ORMagicError
from ..core.params import PARAMS, check_params
from ..core.settings import Settings
from ..run.call import CallOptions
from .panel_logic import REST_POSITION, RunGate, RunLog, initial_values, run_with, timed

SLIDER_STEP = 0.05
UNSET_LABEL = {"temperature": "default", "top_p": "default", "seed": "random", "max_tokens": "default"}
_STYLE = {"description_width": "initial"}


def _slider(name: str, start: float | None) -> w.FloatSlider:
    param = PARAMS[name]
    low = param.low + SLIDER_STEP if param.low_open else param.low  # e.g. top_p in (0, 1]
    if start is not None:
        low = min(low, start)  # a valid value from the line below one step (top_p 0.01) is kept, not clamped
    value = REST_POSITION[name] if start is None else start
    return w.FloatSlider(value=value, min=low, max=param.high, step=SLIDER_STEP, description=name,
                         readout_format=".2f", continuous_update=False, style=_STYLE,
                         # the default track is ~120 px, too coarse to aim; fixed, not shrunk by the row
                         layout=w.Layout(width="380px", flex="0 0 auto"))


def _int_box(name: str) -> w.IntText:
    return w.IntText(value=REST_POSITION[name], description=name, style=_STYLE,
                     layout=w.Layout(width="190px"))


class Panel:
    """Controls for one prompt; each run goes through `api.run_call` and is listed below them.

    `panel.result` is the latest successful Result (also stored in `namespace[out]`), and
    `panel.runs` every run of this panel as a DataFrame.
    """

    def __init__(self, prompt: str, options: CallOptions, settings: Settings,
                 variables: Mapping[str, Any] | None = None, *, out: str | None = None,
                 namespace: MutableMapping[str, Any] | None = None, run: bool = True,
                 delay: float = 0.3, timer: Any = threading.Timer) -> None:
        from .. import api

        api.prepare(prompt, options, settings, variables or {})  # bad input fails here, nothing sent
        self.prompt, self.options, self.settings = prompt, options, settings
        self.variables = variables if variables is not None else {}
        self.out, self.namespace = out, namespace
        self.result: Result | None = None
        self.log = RunLog()
        self.gate = RunGate(self._run_and_show, delay=delay, timer=timer)
        self._build(initial_values(options, settings.model))
        if run:
            self.gate.run_now()

    # --- layout -----------------------------------------------------------------------
    def _build(self, start: dict[str, Any]) -> None:
        self.model = w.Combobox(value=start["model"], options=self._model_ids(start["model"]),
                                ensure_option=False, continuous_update=False, description="model",
                                placeholder="model id", layout=w.Layout(width="420px"), style=_STYLE)
        self.values_widgets: dict[str, w.ValueWidget] = {
            "temperature": _slider("temperature", start["temperature"]),
            "top_p": _slider("top_p", start["top_p"]),
            "seed": _int_box("seed"), "max_tokens": _int_box("max_tokens")}
        self.unset: dict[str, w.Checkbox] = {}
        for name, widget in self.values_widgets.items():
            self.unset[name] = w.Checkbox(value=start[name] is None, description=UNSET_LABEL[name],
                                          indent=False, layout=w.Layout(width="90px"))
            if start[name] is not None:
                widget.value = start[name]
            # Moving a control means "use this value": its default/random box clears itself.
            widget.observe(lambda _, box=self.unset[name]: setattr(box, "value", False), "value")
        self.logprobs = w.Checkbox(value=start["logprobs"], description="logprobs", indent=False)
        self.run_button = w.Button(description="Run", button_style="primary", icon="play")
        self.auto = w.Checkbox(value=False, description="auto-run", indent=False)
        self.status = w.HTML()
        self.output = w.HTML(layout=w.Layout(min_height="2em"))
        self.table = w.HTML()
        self.run_button.on_click(lambda _: self.gate.request(0))
        for widget in (self.model, self.logprobs, *self.values_widgets.values(), *self.unset.values()):
            widget.observe(self._changed, "value")
        self.box = w.VBox([self.model, self._row("temperature", "top_p"),
                           w.HBox([*self._pair("seed"), *self._pair("max_tokens"), self.logprobs]),
                           w.HBox([self.run_button, self.auto, self.status]), self.output, self.table],
                          layout=w.Layout(border="1px solid #ddd", padding="6px"))
        self.box.add_class("or-magic-panel")
        self._name_for_css()

    def _name_for_css(self) -> None:
        """CSS classes naming each control, so a browser (and the browser test) can find them."""
        named = {"model": self.model, "logprobs": self.logprobs, "run": self.run_button, "auto": self.auto,
                 "status": self.status, "output": self.output, "runs": self.table, **self.values_widgets,
                 **{f"{name}-unset": box for name, box in self.unset.items()}}
        for name, widget in named.items():
            widget.add_class(f"or-magic-{name.replace('_', '-')}")

    def _pair(self, name: str) -> list[w.Widget]:
        return [self.values_widgets[name], self.unset[name]]

    def _row(self, *names: str) -> w.HBox:
        # wraps rather than squeezing the sliders when the output area is narrow
        return w.HBox([part for name in names for part in self._pair(name)], layout=w.Layout(flex_flow="row wrap"))

    def _model_ids(self, current: str) -> list[str]:
        """Ids from the server's /models, the current model first; just the current one if that fails."""
        from .. import api

        try:
            ids = [str(i) for i in api.models(settings=self.settings)["id"] if i]
        except ORMagicError:
            ids = []
        return [current] + [i for i in ids if i != current]

    # --- values and runs --------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        """The panel's current values as `run_with` keywords (None: left out of the request)."""
        chosen: dict[str, Any] = {"model": self.model.value, "logprobs": self.logprobs.value}
        for name, widget in self.values_widgets.items():
            chosen[name] = None if self.unset[name].value else widget.value
        return chosen

    def set(self, **values: Any) -> None:
        """Set controls from Python, as a user would (None: back to default/random)."""
        for name, value in check_params({k: v for k, v in values.items() if k != "model"}).items():
            self._set_one(name, value)
        for name in (k for k, v in values.items() if v is None and k in self.unset):
            self.unset[name].value = True
        if values.get("model"):
            self.model.value = values["model"]

    def _set_one(self, name: str, value: Any) -> None:
        if name == "logprobs":
            self.logprobs.value = bool(value)
        elif name in self.values_widgets:
            self.values_widgets[name].value = value
            self.unset[name].value = False
        else:
            raise ValueError(f"the panel has no control for {name!r}; "
                             f"it controls model, {', '.join(self.unset)}, logprobs")

    def run(self, wait: bool = True, timeout: float = 60.0) -> Result | None:
        """Run with the current values, as the Run button does; by default wait for the result."""
        self.gate.request(0)
        if wait:
            self.wait(timeout)
        return self.result

    def wait(self, timeout: float = 60.0) -> bool:
        """Wait until no run is pending or in flight."""
        return self.gate.wait(timeout)

    def _changed(self, change: Mapping[str, Any]) -> None:
        if self.auto.value:
            self.gate.request()

    def _run_and_show(self) -> None:
        """The gate's action: one run, shown in the output area; never raises."""
        values = self.values()
        self.status.value = "running…"
        self._streamed: list[str] = []
        result, error, seconds = timed(lambda: run_with(self.prompt, self.options, self.settings, self.variables,
                                                        on_text=self._show_piece, **values))
        try:
            self.log.add(values, result, error, seconds)
            self._show(result, error)
            self.table.value = self.log.html()
        except Exception as exc:  # a display failure must not kill the panel's thread
            self.output.value = _error_html(exc)

    def _show(self, result: Result | None, error: BaseException | None) -> None:
        number = len(self.log.rows)
        if result is None:
            self.output.value = _error_html(error)
            self.status.value = f"run {number} failed"
            return
        self.result = result
        if self.out and self.namespace is not None:
            self.namespace[self.out] = result
        self.output.value = result._repr_html_()
        self.status.value = f"run {number} done"

    def _show_piece(self, piece: str) -> None:
        """`on_text` for a streamed run: each new piece of text, shown appended to the ones before."""
        self._streamed.append(piece)
        self.output.value = f'<div style="white-space: pre-wrap">{html.escape("".join(self._streamed))}</div>'

    # --- the cell's value -------------------------------------------------------------
    @property
    def runs(self) -> Any:
        """This panel's runs as a DataFrame: parameters, first words of the text, tokens, cost."""
        return self.log.frame()

    @property
    def text(self) -> str:
        return self.result.text if self.result else ""

    @property
    def df(self) -> Any:
        return self.result.df if self.result else None

    def __repr__(self) -> str:
        return f"<or_magic.Panel {len(self.log.rows)} run(s); latest: {self.status.value or 'none'}>"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = self.box._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = repr(self)
        return bundle


def _error_html(error: BaseException | None) -> str:
    name = type(error).__name__
    return (f'<pre class="or-magic-error" style="color: #b00; white-space: pre-wrap">'
            f"{html.escape(name)}: {html.escape(str(error))}</pre>")


def panel(prompt: str, model: str | None = None, *, system: str | None = None, endpoint: str | None = None,
          stream: bool | None = None, extra: Mapping[str, Any] | None = None,
          variables: Mapping[str, Any] | None = None, settings: Settings | None = None,
          run: bool = True, delay: float = 0.3, timer: Any = threading.Timer, **params: Any) -> Panel:
    """The `--widgets` panel from Python: `panel("Write a haiku", model="openai/gpt-4o-mini", temperature=0.7)`.

    `params` are single values with wire names (temperature, top_p, seed, ...), checked as the
    magic checks them; `run=False` shows the panel without a first run; `delay` is the auto-run
    debounce in seconds (`timer` replaces threading.Timer, for tests).
    """
    checked = check_params(params)
    options = CallOptions(models=[model] if model else [], params={k: [v] for k, v in checked.items()},
                          system=system, endpoint=endpoint, stream=stream, extra=dict(extra or {}))
    return Panel(prompt, options, settings or Settings(), variables, run=run, delay=delay, timer=timer)
