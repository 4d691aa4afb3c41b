"""Deterministic fake "language model" for the test server (stdlib only).

The model is a fixed vocabulary of *units* (English word pieces, punctuation,
non-ASCII words, and emoji that are split into partial UTF-8 byte tokens), and a
fixed table of logit rows. At each position a row is picked by hashing
(model, prompt, position, previous unit); the row's log-softmax at T=1 gives the
reported logprobs (like OpenAI, reported logprobs do not depend on temperature),
and sampling uses softmax(logits / temperature) with optional top_k / top_p.
Temperature 0 is argmax. Everything per row is precomputed or cached so a
4,096-token generation with 20 alternatives per position takes milliseconds.

Token representation (what clients must cope with):
- chat logprobs: ``token`` is the text, or ``\\xf0\\x9f\\x98``-style escapes for a
  partial UTF-8 piece; ``bytes`` always holds the real bytes.
- legacy logprobs: partial pieces are spelled ``bytes:\\xf0\\x9f\\x98`` (OpenAI's way).
- message content only ever holds whole characters: the first piece of an emoji
  contributes ``""`` and the last piece the whole emoji.
"""
from __future__ import annotations

import hashlib
import json
import math
import random
import re
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate


@dataclass(frozen=True)
class Tok:
    chat: str         # token string in chat logprobs
    legacy: str       # token string in legacy logprobs (unique per token)
    bytes: list[int]  # raw UTF-8 bytes of this piece
    text: str         # what this token adds to the decoded content
    # Pre-serialised JSON of the fields above: big logprob responses are assembled
    # from cached fragments instead of one json.dumps over 100k small dicts.
    chat_json: str = ""
    legacy_json: str = ""
    bytes_json: str = ""


def _tok(chat: str, legacy: str, raw: bytes, text: str) -> Tok:
    return Tok(chat, legacy, list(raw), text, json.dumps(chat, ensure_ascii=False),
               json.dumps(legacy, ensure_ascii=False),
               json.dumps(list(raw), separators=(",", ":")))


def _whole(text: str) -> Tok:
    return _tok(text, text, text.encode(), text)


def _piece(raw: bytes, text: str) -> Tok:
    esc = "".join(f"\\x{b:02x}" for b in raw)
    return _tok(esc, "bytes:" + esc, raw, text)


_WORDS = (
    " the", " a", " cat", " dog", " sat", " on", " mat", " and", " is", " was",
    " of", " to", " in", " it", " that", " with", " for", " as", " her", " his",
    " they", " we", " you", " I", " not", " but", " be", " at", " by", " this",
    " from", " or", " one", " all", " sun", " moon", " sea", " light", " night",
    " day", " old", " new", " little", " quiet", " river", " tree", " bird",
    " song", " rain", " stone", " dream", " slowly", " over", " under", ".", ",",
    "!", "?", ":", ";", " —", "\n", "\n\n", " café", "é", " naïve", " über",
    " 東京", " ñ", " Yes", " No", "The", "It", "In",
)
_SPLIT = ("😀", "🐱")  # multi-token units: [first bytes..., last byte]


def _units() -> list[list[Tok]]:
    units = [[_whole(w)] for w in _WORDS]
    for ch in _SPLIT:
        raw = ch.encode()
        units.append([_piece(raw[:-1], ""), _piece(raw[-1:], ch)])
    return units


UNITS: list[list[Tok]] = _units()
N_UNITS = len(UNITS)
_MULTI = frozenset(i for i, u in enumerate(UNITS) if len(u) > 1)
N_ROWS = 512
# A forced continuation byte of a split emoji is near-certain; alternatives are other
# continuation bytes, so unlikely that all probabilities still sum below 1; 20 of them
# so top_logprobs=20 is always filled.
FORCED_LP = -1.2e-06
_CONT_ALTS = [(b, -17.0 - 0.37 * k) for k, b in enumerate(range(0x80, 0x80 + 21))]


def _build_rows() -> tuple[list[list[float]], list[list[float]], list[list[int]]]:
    """Logit rows, their T=1 log-softmax, and unit indices sorted by logprob."""
    rng = random.Random(20240611)
    logits, lps, order = [], [], []
    for _ in range(N_ROWS):
        row = [rng.gauss(0.0, 1.8) - 0.02 * j for j in range(N_UNITS)]
        row[rng.randrange(N_UNITS)] += rng.uniform(1.0, 6.0)  # a favourite: varied entropy
        top = max(row)
        log_z = top + math.log(sum(math.exp(x - top) for x in row))
        logits.append(row)
        # floored to 8 decimals: short like real values, and rounding never pushes
        # a position's probabilities above a sum of 1
        lps.append([math.floor((x - log_z) * 1e8) / 1e8 for x in row])
        order.append(sorted(range(N_UNITS), key=lambda j, r=row: -r[j]))
    return logits, lps, order


LOGITS, LOGPROBS, ORDER = _build_rows()


def _mix(*vals: int) -> int:
    """splitmix64-style hash of small ints; stable across processes (unlike hash())."""
    h = 0x9E3779B97F4A7C15
    for v in vals:
        h = (h ^ (v & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 31
    return h


def stable_hash(*parts: object) -> int:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big")


# Cumulative sampling weights per (row, temperature, top_p, top_k, single_only), shared
# by all requests: a 16-token answer then costs a few bisects instead of ~1,200 exp().
# Cleared when big, since swept float settings could otherwise grow it without bound.
_CUMULATIVE: dict[tuple, tuple[list[int], list[float]]] = {}
_CUMULATIVE_MAX = 50_000


@dataclass
class Sampler:
    """Per-request sampling settings; ``rng`` None (or temperature 0) means argmax."""
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    rng: random.Random | None = None

    def pick(self, row: int, single_only: bool) -> int:
        if self.temperature <= 0 or self.rng is None:
            return next(j for j in ORDER[row] if not (single_only and j in _MULTI))
        key = (row, self.temperature, self.top_p, self.top_k, single_only)
        found = _CUMULATIVE.get(key)
        if found is None:
            if len(_CUMULATIVE) > _CUMULATIVE_MAX:
                _CUMULATIVE.clear()
            found = _CUMULATIVE[key] = self._cumulative(row, single_only)
        units, cum = found
        return units[min(bisect_right(cum, self.rng.random() * cum[-1]), len(units) - 1)]

    def _cumulative(self, row: int, single_only: bool) -> tuple[list[int], list[float]]:
        cand = [j for j in ORDER[row] if not (single_only and j in _MULTI)]
        if self.top_k > 0:
            cand = cand[: self.top_k]
        if self.top_p < 1.0:  # nucleus over the T=1 probabilities, as most servers do
            keep, mass = 0, 0.0
            while keep < len(cand) and mass < self.top_p:
                mass += math.exp(LOGPROBS[row][cand[keep]])
                keep += 1
            cand = cand[:keep]
        logit, t = LOGITS[row], self.temperature
        top = logit[cand[0]]
        return cand, list(accumulate(math.exp((logit[j] - top) / t) for j in cand))


@dataclass
class Generation:
    """Generated tokens; ``rows[i]`` is the logit row of token i, or -1 - byte index
    for a forced emoji continuation (its alternatives are other continuation bytes)."""
    tokens: list[Tok]
    logprobs: list[float]
    rows: list[int]
    pieces: list[str]      # content added by each token, clipped at a stop sequence
    offsets: list[int]     # character offset of each token within the content
    text: str
    finish_reason: str     # "stop" or "length"


def generate(prompt_key: str, model: str, *, max_tokens: int, stop: list[str],
             sampler: Sampler, after: list[int] | None = None) -> Generation:
    """``after``: units already written (a prefill or a prompt continuation): generation goes on
    from the state they lead to, so it continues exactly what generating them would have."""
    base = stable_hash(model, prompt_key)
    toks, lps, rows, starts = [], [], [], []
    text, prev, finish, cut = "", N_UNITS, "length", -1
    shift = sum(len(UNITS[u]) for u in after or [])
    if after:
        prev = after[-1]
    while len(toks) < max_tokens and cut < 0:
        row = _mix(base, shift + len(toks), prev) % N_ROWS
        unit = sampler.pick(row, single_only=max_tokens - len(toks) < 2)
        for k, tok in enumerate(UNITS[unit]):
            toks.append(tok)
            lps.append(LOGPROBS[row][unit] if k == 0 else FORCED_LP)
            rows.append(row if k == 0 else -1 - tok.bytes[0])
            starts.append(len(text))
            text += tok.text
        cut = _find_stop(text, stop, starts[-1])
        prev = unit
    if cut >= 0:
        finish, text = "stop", text[:cut]
        keep = sum(1 for s in starts if s < cut)
        toks, lps, rows, starts = toks[:keep], lps[:keep], rows[:keep], starts[:keep]
    pieces = [text[s:s + len(t.text)] for s, t in zip(starts, toks)]
    return Generation(toks, lps, rows, pieces, starts, text, finish)


_UNIT_TEXT = {"".join(t.text for t in unit): i for i, unit in enumerate(UNITS)}
_LONGEST = max(map(len, _UNIT_TEXT))


def segment(text: str) -> list[int] | None:
    """``text`` as a sequence of units (longest match first, backtracking), or None when it is not
    made of the vocabulary: the fake's tokenizer, for a prefix it is asked to continue."""
    if not text:
        return None
    nxt: list[tuple[int, int] | None] = [None] * len(text) + [(-1, -1)]  # (unit, next index) from the end
    for i in range(len(text) - 1, -1, -1):
        for j in range(min(len(text), i + _LONGEST), i, -1):
            unit = _UNIT_TEXT.get(text[i:j])
            if unit is not None and nxt[j] is not None:
                nxt[i] = (unit, j)
                break
    if nxt[0] is None:
        return None
    units, i = [], 0
    while i < len(text):
        unit, i = nxt[i]
        units.append(unit)
    return units


def _find_stop(text: str, stops: list[str], new_from: int) -> int:
    """Earliest stop sequence that overlaps the newly added text, or -1."""
    hits = [i for s in stops if (i := text.find(s, max(0, new_from - len(s) + 1))) >= 0]
    return min(hits) if hits else -1


class RawJSON(str):
    """Already-serialised JSON, spliced into a response by bodies.encode()."""


# Alternatives are cached per (row, n) as JSON fragments, shared by all responses:
# a 4,096-token answer with 20 alternatives each is assembled in milliseconds.
_CHAT_ALTS: dict[tuple[int, int], str] = {}
_LEGACY_ALTS: dict[tuple[int, int], str] = {}


def _alternatives(row: int, n: int) -> list[tuple[Tok, float]]:
    if row >= 0:
        return [(UNITS[j][0], LOGPROBS[row][j]) for j in ORDER[row][:n]]
    chosen = -1 - row
    alts = [(_piece(bytes([chosen]), ""), FORCED_LP)]
    alts += [(_piece(bytes([b]), ""), lp) for b, lp in _CONT_ALTS if b != chosen]
    return alts[:n]


def _chat_alts(row: int, n: int) -> str:
    key = (row, n)
    if key not in _CHAT_ALTS:
        _CHAT_ALTS[key] = "[" + ",".join(
            f'{{"token":{t.chat_json},"logprob":{lp!r},"bytes":{t.bytes_json}}}'
            for t, lp in _alternatives(row, n)) + "]"
    return _CHAT_ALTS[key]


def _legacy_alts(row: int, n: int) -> str:
    key = (row, n)
    if key not in _LEGACY_ALTS:
        _LEGACY_ALTS[key] = "{" + ",".join(
            f"{t.legacy_json}:{lp!r}" for t, lp in _alternatives(row, n)) + "}"
    return _LEGACY_ALTS[key]


def chat_logprobs(gen: Generation, n: int, lo: int = 0, hi: int | None = None) -> RawJSON:
    """OpenAI chat shape ``{"content":[...],"refusal":null}`` for tokens lo..hi."""
    hi = len(gen.tokens) if hi is None else hi
    entries = ",".join(
        f'{{"token":{t.chat_json},"logprob":{lp!r},"bytes":{t.bytes_json},'
        f'"top_logprobs":{_chat_alts(r, n)}}}'
        for t, lp, r in zip(gen.tokens[lo:hi], gen.logprobs[lo:hi], gen.rows[lo:hi]))
    return RawJSON(f'{{"content":[{entries}],"refusal":null}}')


def legacy_logprobs(gen: Generation, n: int, prompt_chars: int,
                    lo: int = 0, hi: int | None = None) -> RawJSON:
    """OpenAI legacy completions shape; text_offset counts from the prompt's start."""
    hi = len(gen.tokens) if hi is None else hi
    tokens = ",".join(t.legacy_json for t in gen.tokens[lo:hi])
    alts = ",".join(_legacy_alts(r, n) for r in gen.rows[lo:hi])
    return RawJSON(
        f'{{"tokens":[{tokens}],"token_logprobs":{json.dumps(gen.logprobs[lo:hi])},'
        f'"top_logprobs":[{alts}],'
        f'"text_offset":{json.dumps([prompt_chars + o for o in gen.offsets[lo:hi]])}}}')


_PIECE = re.compile(r'\s+|[{}\[\]:,]|"|[^\s{}\[\]:,"]{1,6}')


def fixed_text(text: str, finish_reason: str = "stop") -> Generation:
    """A generation whose content is `text` (a structured answer), cut into token-like pieces;
    each piece gets a logit row by position, so logprob tables stay well-formed."""
    pieces = _PIECE.findall(text) or [""]
    toks = [_whole(p) for p in pieces]
    starts = list(accumulate([0] + [len(p) for p in pieces[:-1]]))
    rows = [i % N_ROWS for i in range(len(toks))]
    return Generation(toks, [-0.05] * len(toks), rows, pieces, starts, text, finish_reason)
