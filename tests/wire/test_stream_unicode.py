"""A stream whose emoji is split across chunks, or that carries a lone surrogate, stays showable."""

from __future__ import annotations

import json

from or_magic.wire.stream import StreamAssembler


def chunk(content_json: str) -> dict:
    return json.loads('{"choices": [{"index": 0, "delta": {"content": "%s"}}]}' % content_json)


def test_surrogate_pair_split_over_chunks_is_joined_in_pieces_and_body():
    assembler = StreamAssembler()
    pieces = [assembler.add(chunk(c)) for c in ["hi \\ud83d", "\\ude00!", " lone \\udc00 end"]]
    for piece in pieces:
        piece.encode("utf-8")  # every piece handed to the display can be written out
    assert "".join(pieces) == "hi \U0001F600! lone \ufffd end"
    assembler.add({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    body = assembler.body()
    assert body["choices"][0]["message"]["content"] == "hi \U0001F600! lone \ufffd end"
    assert assembler.text == body["choices"][0]["message"]["content"]
