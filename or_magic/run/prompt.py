"""The cell text as a prompt: template filling, and chat messages vs a completion prompt.

Templating rules (documented in the README):
- ``{name}`` becomes ``str(value)`` of ``name`` in the namespace, when ``name`` is defined there;
- ``{{name}}`` is a literal ``{name}`` (the escape for text that must keep its braces);
- ``{row.col}`` is column ``col`` of the current row when ``row`` is a DataFrame row of
  ``--vars row=df`` (a `Row`); for anything else it is sent as written (code such as
  ``{self.x}`` stays code);
- every other brace is sent exactly as written: JSON, code, ``{undefined}``.  Unlike
  ``str.format`` nothing here raises, so prompts with JSON examples or code just work.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

# One pass over the text: an escaped {{name}} or a plain {name}.  Names are identifiers, so
# JSON such as {"a": 1} or code such as {x + 1} never matches.
_FIELD = re.compile(r"\{\{([A-Za-z_]\w*)\}\}|\{([A-Za-z_]\w*)(?:\.([A-Za-z_]\w*))?\}")


class Row:
    """One DataFrame row of `--vars row=df`: `{row.col}` reads a column, `{row}` shows them all.

    `label` is the row's index label: the key column that joins the results back to the frame."""

    __slots__ = ("label", "values")

    def __init__(self, label: Any, values: Mapping[str, Any]) -> None:
        self.label = label
        self.values = dict(values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __str__(self) -> str:
        return "\n".join(f"{k}: {v}" for k, v in self.values.items())

    def __repr__(self) -> str:
        return f"Row({self.label!r}, {self.values!r})"


def fill_template(text: str, namespace: Mapping[str, Any]) -> tuple[str, list[str]]:
    """Fill ``{name}`` fields from `namespace`.

    Returns the filled text and the field names that were not defined (left as written), so
    the caller can point out a likely typo without failing.
    """
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        escaped, name, column = match.groups()
        if escaped is not None:
            return "{" + escaped + "}"
        if column is not None:  # {row.col}: only a --vars DataFrame row is read this way
            row = namespace.get(name)
            if not isinstance(row, Row):
                return match.group(0)
            if column in row.values:
                return str(row.values[column])
            if f"{name}.{column}" not in missing:
                missing.append(f"{name}.{column}")
            return match.group(0)
        if name in namespace:
            return str(namespace[name])
        if name not in missing:
            missing.append(name)
        return match.group(0)

    return _FIELD.sub(replace, text), missing


def template_fields(text: str) -> list[str]:
    """The names of the ``{name}`` fields in `text` (escaped ones excluded), in order."""
    return list(dict.fromkeys(m.group(2) for m in _FIELD.finditer(text) if m.group(2) and not m.group(3)))


def row_fields(text: str) -> dict[str, list[str]]:
    """The ``{name.col}`` fields of `text`: name → the columns it reads, in order."""
    fields: dict[str, list[str]] = {}
    for m in _FIELD.finditer(text):
        if m.group(3) and m.group(3) not in fields.setdefault(m.group(2), []):
            fields[m.group(2)].append(m.group(3))
    return fields


def chat_messages(prompt: str, system: str | None = None,
                  context: Sequence[dict[str, str]] = ()) -> list[dict[str, str]]:
    """The `messages` of a chat request: an optional system message, a conversation's earlier
    turns, then the prompt."""
    messages = [{"role": "system", "content": system}] if system else []
    messages.extend(dict(m) for m in context)
    messages.append({"role": "user", "content": prompt})
    return messages


def completion_prompt(prompt: str, system: str | None = None) -> str:
    """The `prompt` of a legacy completion: the system text, if any, goes first."""
    return f"{system}\n\n{prompt}" if system else prompt


def qualify_fields(text: str, name: str, columns: Sequence[str]) -> tuple[str, list[str]]:
    """`text` with each plain ``{col}`` field naming one of `columns` rewritten as ``{name.col}``
    (so a frame's columns can be written as plain fields, as `or_magic.map_rows` does).

    Returns the text and the plain field names that name no column, in order; escaped ``{{col}}``
    and dotted ``{a.b}`` fields are kept as written."""
    known = set(columns)
    unknown: list[str] = []

    def replace(match: re.Match[str]) -> str:
        escaped, field, column = match.groups()
        if escaped is not None or column is not None:
            return match.group(0)
        if field in known:
            return "{" + f"{name}.{field}" + "}"
        if field not in unknown:
            unknown.append(field)
        return match.group(0)

    return _FIELD.sub(replace, text), unknown
