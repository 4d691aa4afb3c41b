"""The cell text as a prompt: template filling, and chat messages vs a completion prompt.

Templating rules (documented in the README):
- ``{name}`` becomes ``str(value)`` of ``name`` in the namespace, when ``name`` is defined there;
- ``{{name}}`` is a literal ``{name}`` (the escape for text that must keep its braces);
- every other brace is sent exactly as written: JSON, code, ``{undefined}``.  Unlike
  ``str.format`` nothing here raises, so prompts with JSON examples or code just work.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

# One pass over the text: an escaped {{name}} or a plain {name}.  Names are identifiers, so
# JSON such as {"a": 1} or code such as {x + 1} never matches.
_FIELD = re.compile(r"\{\{([A-Za-z_]\w*)\}\}|\{([A-Za-z_]\w*)\}")


def fill_template(text: str, namespace: Mapping[str, Any]) -> tuple[str, list[str]]:
    """Fill ``{name}`` fields from `namespace`.

    Returns the filled text and the field names that were not defined (left as written), so
    the caller can point out a likely typo without failing.
    """
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        escaped, name = match.groups()
        if escaped is not None:
            return "{" + escaped + "}"
        if name in namespace:
            return str(namespace[name])
        if name not in missing:
            missing.append(name)
        return match.group(0)

    return _FIELD.sub(replace, text), missing


def template_fields(text: str) -> list[str]:
    """The names of the ``{name}`` fields in `text` (escaped ones excluded), in order."""
    return list(dict.fromkeys(m.group(2) for m in _FIELD.finditer(text) if m.group(2)))


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
