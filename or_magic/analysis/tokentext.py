"""Decoded text and character offsets of generated tokens, from their bytes.

A token is a byte sequence, and a multi-byte character (an emoji is 4 bytes) may be split over
several tokens, none of which is valid UTF-8 on its own.  The bytes of all tokens are decoded
as one stream, and each character's text is attributed to the token whose bytes *complete*
it: the tokens that only start a character get the text "" and the completing token gets the
whole character.  Bytes that never complete (or are invalid) become U+FFFD "�".

Where a token has no bytes (legacy format, or `bytes: null`), its token string is its text,
except that OpenAI's ``bytes:\\xf0\\x9f`` spelling of a partial token is read as those bytes.
"""

from __future__ import annotations

import codecs
import itertools
import re
from typing import Any, Sequence

_BYTES_SPELLING = re.compile(r"bytes:((?:\\x[0-9a-fA-F]{2})+)")
REPLACEMENT = "\ufffd"


def token_bytes(token: str, raw: Any) -> bytes | None:
    """The bytes of one token: the server's list, else a ``bytes:\\x..`` token string, else None."""
    if raw is not None:
        try:
            return bytes(raw)
        except (TypeError, ValueError):
            return None
    if token.startswith("bytes:"):
        match = _BYTES_SPELLING.fullmatch(token)
        if match:
            return bytes.fromhex(match.group(1).replace("\\x", ""))
    return None


def decode_tokens(tokens: Sequence[str], raw_bytes: Sequence[Any]) -> tuple[list[str], int]:
    """Each token's decoded text, and how many "�" the decoding introduced."""
    if _tokens_are_text(tokens, raw_bytes):
        return list(tokens), 0
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    texts: list[str] = []
    for token, raw in zip(tokens, raw_bytes):
        data = token_bytes(token, raw)
        if data is None:
            # The stream of bytes is interrupted: whatever was pending cannot complete.
            texts.append(decoder.decode(b"", final=True) + token)
            decoder.reset()
        else:
            texts.append(decoder.decode(data))
    tail = decoder.decode(b"", final=True)
    if tail and texts:
        texts[-1] += tail
    replaced = sum(t.count(REPLACEMENT) for t in texts) - sum(t.count(REPLACEMENT) for t in tokens)
    return texts, max(replaced, 0)


def _tokens_are_text(tokens: Sequence[str], raw_bytes: Sequence[Any]) -> bool:
    """True when every token string already is its text: no bytes, or bytes that are its UTF-8."""
    if all(b is None for b in raw_bytes):
        return not any(t.startswith("bytes:") for t in tokens)
    # Compared whole (one bytes object of all tokens' bytes against all tokens' text) plus each
    # token's length, so a token boundary cannot move unnoticed: the same test as token by token,
    # without a bytes object per token (half the time on a 4,096-token answer).
    try:
        encoded = list(map(str.encode, tokens))
        return list(map(len, raw_bytes)) == list(map(len, encoded)) \
            and bytes(itertools.chain.from_iterable(raw_bytes)) == b"".join(encoded)
    except (TypeError, ValueError, UnicodeEncodeError):  # None among bytes, bad values, lone surrogates
        return False


def char_offsets(texts: Sequence[str]) -> list[int]:
    """Character offset of each token's text in the concatenated completion."""
    return list(itertools.accumulate(map(len, texts), initial=0))[:-1] if texts else []
