"""What a request carries to prove who sends it: the key (only where it may go) and attribution.

The key goes to OpenRouter over https, to this machine (loopback: a local proxy, llama.cpp, a
test server), and to hosts opted in by name (`Settings.send_key_to_hosts` or
$OR_MAGIC_SEND_KEY_TO); anywhere else the request goes without it (`Settings.sends_key`).
"""

from __future__ import annotations

import sys
from urllib.parse import urlparse

from ..core import __version__
from ..core.settings import SEND_KEY_ENV, Settings


def withheld_why(settings: Settings) -> str:
    """Why the key stays home, and the opt-in that sends it (README: "Where the key is sent")."""
    host = urlparse(settings.resolved_base_url()).hostname or ""
    return (f"it goes only to OpenRouter over https and to this machine; to send it to {host}, set "
            f"{SEND_KEY_ENV}={host} or %config OpenRouterMagics.send_key_to_hosts = [{host!r}]")


_told: set[str] = set()  # base URLs whose "key not sent" notice was shown


def tell_withheld(settings: Settings) -> None:
    """The one-line notice (once per base URL) that the key was not sent, and how to send it."""
    url = settings.resolved_base_url()
    if url not in _told:
        _told.add(url)
        print(f"or_magic: not sending ${settings.api_key_env} to {url}: {withheld_why(settings)}",
              file=sys.stderr, flush=True)


def request_headers(settings: Settings, key: str | None) -> dict[str, str]:
    headers = {"User-Agent": f"or_magic/{__version__}", "Accept": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    if settings.app_url:
        headers["HTTP-Referer"] = settings.app_url
    if settings.app_title:
        headers["X-Title"] = settings.app_title
    return headers
