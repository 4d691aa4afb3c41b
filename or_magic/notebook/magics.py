"""OpenRouterMagics: `%%openrouter` (prompt a model) and `%openrouter` (models, key).

Thin by design: parse the line (options.py), call the API (api/), store the result.  Bad
input becomes a one-line UsageError before anything is sent; API failures propagate so the
cell fails and Run-All / nbval notice.
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from traitlets import Bool, Float, Int, List, Unicode, validate

from ..core.errors import ConfigError, InvalidOption, ORMagicError
from ..core.settings import Settings
from .options import HELP, parse_line

_DEFAULTS = Settings()
_FIELDS = tuple(Settings.__dataclass_fields__)
SUBCOMMANDS = ("models", "endpoints", "key", "history", "sweeps", "chat", "chats")


@magics_class
class OpenRouterMagics(Magics):
    """Settings for %%openrouter; set with `%config OpenRouterMagics.<name> = value`."""

    model = Unicode(_DEFAULTS.model, help="default model id when the line names none").tag(config=True)
    base_url = Unicode(_DEFAULTS.base_url,
                       help="API base URL; empty: $OPENROUTER_BASE_URL, else https://openrouter.ai/api/v1"
                       ).tag(config=True)
    api_key_env = Unicode(_DEFAULTS.api_key_env, help="environment variable that holds the API key"
                          ).tag(config=True)
    timeout = Float(_DEFAULTS.timeout, help="seconds to wait for (more of) an answer").tag(config=True)
    deadline = Float(_DEFAULTS.deadline, help="most seconds one request, streamed or not, may take in all "
                     "(keep-alives do not extend it)").tag(config=True)
    connect_timeout = Float(_DEFAULTS.connect_timeout, help="seconds to wait for a connection").tag(config=True)
    max_retries = Int(_DEFAULTS.max_retries, help="retries of 408/429/5xx and connection errors").tag(config=True)
    concurrency = Int(_DEFAULTS.concurrency, help="requests in flight at once in a sweep").tag(config=True)
    max_runs = Int(_DEFAULTS.max_runs, help="largest sweep that runs without --yes").tag(config=True)
    app_url = Unicode(_DEFAULTS.app_url, help="sent as HTTP-Referer (OpenRouter app attribution)").tag(config=True)
    app_title = Unicode(_DEFAULTS.app_title, help="sent as X-Title (OpenRouter app attribution)").tag(config=True)
    stream = Bool(_DEFAULTS.stream, help="stream single runs into the output").tag(config=True)
    completions_models = List(Unicode(), list(_DEFAULTS.completions_models),
                              help="glob patterns of model ids sent to /completions by default").tag(config=True)
    history = Bool(_DEFAULTS.history, help="record every run in the history database").tag(config=True)
    history_path = Unicode(_DEFAULTS.history_path,
                           help="history database file; empty: $OR_MAGIC_HOME/history.db, else the user's "
                           "data directory").tag(config=True)
    send_key_to_hosts = List(Unicode(), list(_DEFAULTS.send_key_to_hosts),
                             help="hosts besides OpenRouter (https) and this machine that may receive the API key "
                             "(also $OR_MAGIC_SEND_KEY_TO, comma-separated)").tag(config=True)
    cache = Bool(_DEFAULTS.cache, help="answer repeated requests with a seed or temperature 0 from the "
                 "history, at no cost (--cache / --no-cache per cell)").tag(config=True)
    # Display only, so not a Settings field: the Python API raises the same errors either way.
    short_errors = Bool(True, help="show or_magic's API, connection and config errors in two lines "
                        "(%tb shows the full traceback); False: always the full traceback").tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._settings: tuple[tuple[Any, ...], Settings] | None = None
        if shell is not None:
            from ..core.shell import track_cells
            from . import printers, shorterrors

            shorterrors.install(shell)
            printers.install(shell)
            track_cells(shell)

    @validate("timeout", "connect_timeout", "deadline")
    def _positive_seconds(self, proposal: Any) -> float:
        if proposal["value"] <= 0:
            raise ValueError(f"{proposal['trait'].name} must be > 0 seconds")
        return proposal["value"]

    @validate("max_retries", "concurrency", "max_runs")
    def _counts(self, proposal: Any) -> int:
        lowest = 0 if proposal["trait"].name == "max_retries" else 1
        if proposal["value"] < lowest:
            raise ValueError(f"{proposal['trait'].name} must be ≥ {lowest}")
        return proposal["value"]

    def settings(self) -> Settings:
        """The current trait values as Settings (read at every call, so %config applies at once).
        The Settings made from the same values last time is reused: building one costs more."""
        values = tuple(getattr(self, name) for name in _FIELDS)
        key = tuple(tuple(v) if isinstance(v, list) else v for v in values)  # a list trait can change in place
        if self._settings is None or self._settings[0] != key:
            self._settings = (key, _DEFAULTS.with_overrides(**dict(zip(_FIELDS, values))))
        return self._settings[1]

    @line_cell_magic
    @no_var_expand  # expanded by _expanded, only when the line has something to expand
    def openrouter(self, line: str, cell: str | None = None) -> Any:
        line = self._expanded(line, cell is not None)
        if cell is None:
            return self._subcommand(line)
        from .live import LiveText

        live = LiveText.for_shell(self.shell)  # shows a single streamed run as it arrives
        try:
            options = parse_line(line)
            if options.in_conversation:
                from .chats import (
                    cell_id,  # conversations load only when a cell has one
                )

                options.cell = cell_id(self.shell)  # a re-run of this cell replaces the turn it made
            if options.widgets:
                return self._panel(cell.rstrip("\r\n"), options)
            from ..api import run_call

            # IPython hands the cell over with a trailing newline the user did not type; for a
            # completion prompt it would change what the model continues from.
            result = run_call(cell.rstrip("\r\n"), options, self.settings(), self.shell.user_ns, on_text=live)
        except (InvalidOption, ConfigError) as exc:
            raise UsageError(str(exc)) from None
        except BaseException as exc:
            live.abandon()  # the partial text stays on screen, above the error
            partial = exc.result if isinstance(exc, ORMagicError) else None
            if partial is not None and options.out:  # and in -o NAME, with the error in its row
                self.shell.user_ns[options.out] = partial
            raise
        if options.out:
            self.shell.user_ns[options.out] = result
        live.finish(result)  # the live output becomes the result's own rendering
        return result

    def _expanded(self, line: str, in_cell: bool) -> str:
        """The line after IPython's `$name` / `{expression}` expansion, exactly as IPython would
        have expanded it, but only when it has a `$`, `{` or `}`: the expansion copies the whole user
        namespace and runs a formatter on every cell, a tenth of a plain cell's cost.
        IPython looks `depth + 1` frames above var_expand for the local namespace: from
        run_cell_magic with depth 2, from run_line_magic with 1; var_expand is called here two
        frames deeper (this method, then `openrouter`), so those become 4 and 3."""
        if "$" not in line and "{" not in line and "}" not in line:
            return line
        return self.shell.var_expand(line, 4 if in_cell else 3)

    def _panel(self, prompt: str, options: Any) -> Any:
        from .widgets import (
            Panel,  # ipywidgets is imported only when a panel is asked for
        )

        if options.in_conversation:
            from .chats import panel_cell

            options.cell = panel_cell(self.shell)  # each panel run replaces the panel's turn

        return Panel(prompt, options, self.settings(), self.shell.user_ns, out=options.out,
                     namespace=self.shell.user_ns)

    def _subcommand(self, line: str) -> Any:
        from .. import api

        command, _, rest = line.strip().partition(" ")
        try:
            if command == "models":
                found = api.models(rest.strip() or None, self.settings())
                if found.empty and rest.strip():  # not an empty table with a bare header
                    from ..wire.catalogue import listing

                    total = len(listing(api.client_for(self.settings())))  # the kept catalogue, not a new request
                    print(f"no model matches {rest.strip()!r} among the {total} models of "
                          f"{self.settings().resolved_base_url()}; try fewer words, or %openrouter models for all")
                    return None
                return found
            if command == "endpoints":
                return api.endpoints(rest.strip(), self.settings())
            if command == "key":
                return api.key_info(self.settings())
            if command == "history":
                from ..store.history_query import history
                from .lineparse import parse_filters

                return history(**parse_filters(rest), settings=self.settings())
            if command == "sweeps":
                return sweeps_line(rest, self.settings())
            if command == "chat":
                from .chats import chat_line

                return chat_line(rest)
            if command == "chats":
                from .chats import chats_line

                return chats_line()
        except (InvalidOption, ConfigError) as exc:
            raise UsageError(str(exc)) from None
        raise UsageError(f"%openrouter {command or ''}: use one of {', '.join(SUBCOMMANDS)}; "
                         "prompts go in a %%openrouter cell (see %%openrouter?)")


def sweeps_line(rest: str, settings: Settings) -> Any:
    """`%openrouter sweeps [--all]`."""
    from ..api import sweeps

    words = rest.split()
    if any(word != "--all" for word in words):
        raise InvalidOption(f"%openrouter sweeps {rest.strip()}: takes only --all (every sweep, finished ones too)")
    table = sweeps(everything=bool(words), settings=settings)
    if table.empty:
        print("no sweep has runs left to send" if not words else "no sweep recorded yet")
        return None
    return table


OpenRouterMagics.openrouter.__doc__ = (
    HELP + "\nLine magic: %openrouter models [TEXT] lists models; %openrouter endpoints MODEL lists its providers "
    "and what each supports; %openrouter key shows the key's "
    "limit and usage; %openrouter history [--model TEXT] [--grep TEXT] [--since WHEN] [--until WHEN] "
    "[--errors] [--chat NAME] [--limit N] [--full] shows past runs, newest first (compact; --full: every "
    "column); %openrouter sweeps [--all] lists the sweeps with runs left to send (id, size, finished, failed, "
    "missing; --all: every sweep), finished with %%openrouter ... --resume or or_magic.resume(ID); "
    "%openrouter chat [NAME] [--reset] shows (or empties) a conversation's transcript; "
    "%openrouter chats lists the session's conversations."
    "\nSettings: %config OpenRouterMagics (model, base_url, "
    "api_key_env, timeout, connect_timeout, max_retries, concurrency, max_runs, app_url, app_title, stream, completions_models, "
    "history, history_path, cache, short_errors).")
