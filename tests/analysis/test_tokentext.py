"""Decoded token text (analysis/tokentext.py): the shortcut for tokens that already are their text
must agree with decoding them one by one."""

import random

import pytest

from or_magic.analysis.tokentext import _tokens_are_text, decode_tokens, token_bytes

WORDS = ["a", "ab", " the", "é", "東京", "🙂", "\n", ""]


@pytest.mark.parametrize("tokens, raw, expected", [
    (["ab", "c"], [[97, 98], [99]], True),
    (["ab", "c"], [[97], [98, 99]], False),  # same bytes in all, a boundary moved
    (["é"], [[195, 169]], True),
    (["é"], [[195]], False),
    (["a"], [None], True),  # no bytes: the token string is its text
    (["a", "b"], [[97], None], False),
    (["a"], [[300]], False),
    (["a"], [["x"]], False),
    (["\ud83d"], [[0xed, 0xa0, 0xbd]], False),  # a lone surrogate cannot be encoded
    ([], [], True),
])
def test_tokens_are_text(tokens, raw, expected):
    assert _tokens_are_text(tokens, raw) is expected


def test_the_shortcut_agrees_with_token_by_token_decoding():
    rng = random.Random(7)
    for _ in range(500):
        tokens = [rng.choice(WORDS) for _ in range(rng.randrange(0, 8))]
        raw = [list(t.encode()) for t in tokens]
        if tokens and rng.random() < 0.5:  # move one byte across a boundary, or drop one
            i = rng.randrange(len(raw))
            if raw[i] and rng.random() < 0.5:
                raw[i].pop()
            elif i + 1 < len(raw) and raw[i + 1]:
                raw[i].append(raw[i + 1].pop(0))
        one_by_one = all(token_bytes(t, b) == t.encode() for t, b in zip(tokens, raw))
        assert _tokens_are_text(tokens, raw) is one_by_one
        texts, _ = decode_tokens(tokens, raw)
        assert "".join(texts) == bytes(b for r in raw for b in r).decode("utf-8", "replace")
