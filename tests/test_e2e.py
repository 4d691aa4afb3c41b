"""End-to-end tier (`make e2e`): or_magic against a REAL local model (llama.cpp's server from the
xllamacpp wheel + SmolLM2-135M-Instruct).

These check properties a scripted server cannot fake: temperature 0 and a fixed seed repeat,
a higher temperature gives more distinct outputs, each position's alternatives are a real
distribution, and the chosen token's logprob matches its own entry among the alternatives; a
`json_schema` answer parses and fits its schema; a simple factual question gets the right word.
Both endpoints are covered: the instruct model name sends requests to /completions, and
`endpoint="chat"` to /chat/completions.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from or_magic import compare, complete
from or_magic.core.settings import Settings

pytestmark = pytest.mark.e2e
PROMPT = "The capital of France is"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def local(local_base_url: str) -> Settings:
    # The server ignores model names; the instruct name sends requests to /completions.
    return Settings(base_url=local_base_url, model="openai/gpt-3.5-turbo-instruct", max_retries=1)


@pytest.mark.parametrize("endpoint", ["completions", "chat"])
def test_temperature_zero_and_fixed_seed_repeat(local, endpoint):
    first = complete(PROMPT, settings=local, endpoint=endpoint, temperature=0, max_tokens=12)
    again = complete(PROMPT, settings=local, endpoint=endpoint, temperature=0, max_tokens=12)
    assert first.text and first.text == again.text
    seeded = [complete(PROMPT, settings=local, endpoint=endpoint, temperature=1, seed=7, max_tokens=12).text
              for _ in range(2)]
    assert seeded[0] == seeded[1]


def test_chat_answers_a_simple_question(local):
    r = complete("What is the capital of France? Answer in one word.", settings=local, endpoint="chat",
                 temperature=0, max_tokens=16)
    assert "Paris" in r.text


SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
          "required": ["city", "population"], "additionalProperties": False}


def test_json_schema_answer_parses_and_fits(local):
    r = complete("Name a large city and its population, as JSON.", settings=local, endpoint="chat",
                 temperature=0, max_tokens=60, response_format=json.dumps(SCHEMA))
    answer = json.loads(r.text)
    assert set(answer) == set(SCHEMA["required"])
    assert isinstance(answer["city"], str) and answer["city"] and isinstance(answer["population"], int)


def test_temperature_sweep_more_distinct_when_hotter(local):
    sweep = complete("Once upon a time", settings=local, temperature=[0, 1.5], seed=[1, 2, 3, 4, 5],
                     max_tokens=10)
    df = sweep.df
    assert len(df) == 10 and df.error.isna().all()
    distinct = df.groupby("temperature").text.nunique()
    assert distinct[0.0] == 1 and distinct[1.5] > 1


@pytest.mark.parametrize("endpoint", ["completions", "chat"])
def test_logprob_tables_are_a_real_distribution(local, endpoint):
    r = complete(PROMPT, settings=local, endpoint=endpoint, temperature=0, max_tokens=8, top_logprobs=5)
    tokens, top = r.logprobs, r.top_logprobs
    assert len(tokens) == r.df.completion_tokens[0] > 0
    mass = top.groupby("position").prob.sum()
    assert (mass <= 1 + 1e-4).all()
    chosen = top[top.chosen].merge(tokens, on=["run", "position"], suffixes=("_alt", ""))
    assert len(chosen) > 0
    assert all(math.isclose(a, b, abs_tol=1e-4) for a, b in zip(chosen.logprob_alt, chosen.logprob))
    # at temperature 0 the chosen token is the most likely one
    assert (top[top["rank"] == 1].merge(tokens, on=["run", "position"]).token_x
            == top[top["rank"] == 1].merge(tokens, on=["run", "position"]).token_y).all()


@pytest.mark.parametrize("endpoint", ["completions", "chat"])
def test_streamed_equals_unstreamed(local, endpoint):
    kw = dict(settings=local, endpoint=endpoint, temperature=0, max_tokens=10, top_logprobs=3)
    streamed = complete(PROMPT, stream=True, **kw)
    plain = complete(PROMPT, stream=False, **kw)
    assert streamed.text == plain.text
    assert list(streamed.logprobs.token) == list(plain.logprobs.token)


def test_the_magic_against_the_local_model(local_base_url, shell):
    shell.run(f"%config OpenRouterMagics.base_url = '{local_base_url}'")
    r = shell.run("%%openrouter openai/gpt-3.5-turbo-instruct -t 0 --max-tokens 8 --top-logprobs 3 -o r\n" + PROMPT)
    assert r.text and shell.ns["r"] is r and len(r.top_logprobs) > 0


def test_schema_answers_validate_on_the_local_model(local):
    """llama.cpp turns the json_schema into a grammar, so every answer must fit: no schema_error."""
    import pandas as pd

    from or_magic.analysis.validate import first_violation

    items = pd.DataFrame({"item": ["an apple", "a hammer", "a banana", "a saw", "a cherry"]})
    # an enum keeps a 270M model's answer short, so max_tokens never cuts the JSON off
    schema = {"type": "object", "properties": {"label": {"enum": ["fruit", "tool"]}, "confident": {"type": "boolean"}}}
    r = complete("Is {row.item} a fruit or a tool? Answer in JSON.", settings=local, endpoint="chat",
                 schema=schema, sweep_vars={"row": items}, temperature=0, max_tokens=64)
    df = r.df
    assert len(df) == 5 and df.error.isna().all()
    assert df.schema_error.isna().all(), df.schema_error.tolist()
    assert df["item"].tolist() == items["item"].tolist() and df["confident"].dtype == "boolean"
    assert all(first_violation(obj, r.schema.schema) is None for obj in r.data)
    assert set(df["label"]) <= {"fruit", "tool"}


def test_demo_notebooks_run_clean_on_the_local_model(tmp_path):
    sys.path.insert(0, str(ROOT / "notebooks"))
    try:
        import demo
    finally:
        sys.path.pop(0)
    assert demo.main(["--backend", "local", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "quickstart.ipynb").exists() and (tmp_path / "quickstart.html").exists()


def test_fork_a_real_completion_at_position_two(local):
    r = complete(PROMPT, settings=local, temperature=0, max_tokens=8, top_logprobs=5, progress=False)
    assert len(r.logprobs) > 2
    f = r.fork(2)
    token = f.df.fork_token[0]
    assert token != r.logprobs.token[2]
    before = "".join(r.logprobs.text[:2])
    continuation = f.text[len(before):]
    assert f.text.startswith(before) and continuation.startswith(token)
    assert f.text != r.text
    assert list(compare(r, f).position) == [2, 2]


def test_a_two_turn_conversation_whose_second_answer_depends_on_the_first(local):
    """The first turn (and its answer) is sent back with the second, so the model can read it again:
    the word it only saw in the conversation comes back in the second answer, and not without it.
    (A 135M model does not echo digits on request, but it does repeat a word it just said.)"""
    import or_magic

    c = or_magic.chat("e2e", settings=local, endpoint="chat", temperature=0, max_tokens=24)
    first = c.send("The secret word is banana. Say OK.")
    second = c.send("What is the secret word?")
    sent = second.runs[0].spec.body()["messages"]
    assert sent[:2] == [{"role": "user", "content": "The secret word is banana. Say OK."},
                        {"role": "assistant", "content": first.text}] and len(sent) == 3
    assert "banana" in second.text.lower()
    alone = complete("What is the secret word?", settings=local, endpoint="chat", temperature=0, max_tokens=24)
    assert "banana" not in alone.text.lower()  # it came from the conversation, not from the question
