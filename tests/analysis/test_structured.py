"""--schema / --schema-multi end to end against the local server: request bodies, typed columns,
schema_error for each violation kind, labelling a DataFrame, tool calls."""

import json

import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.lib.pretty import pretty

from or_magic import complete
from or_magic.run.schema import parse_concise

CHAT = "openai/gpt-4o-mini"
INSTRUCT = "openai/gpt-3.5-turbo-instruct"
PERSON = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
          "required": ["name", "age"], "additionalProperties": False}


def sent_format(server):
    return server.last.body["response_format"]


def strict_format(schema, name="response"):
    return {"type": "json_schema", "json_schema": {"name": name, "strict": True, "schema": schema}}


def test_concise_spec_body_data_and_typed_columns(shell, server):
    r = shell.run(f"%%openrouter {CHAT} --schema 'name, age int, score float, ok bool, tags list, "
                  "summary: one sentence'\nDescribe someone.")
    schema = sent_format(server)["json_schema"]["schema"]
    assert sent_format(server)["type"] == "json_schema" and sent_format(server)["json_schema"]["strict"] is True
    assert schema["required"] == ["name", "age", "score", "ok", "tags", "summary"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["summary"] == {"type": "string", "description": "one sentence"}
    assert schema["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}
    assert r.data == json.loads(r.text) and set(r.data) == set(schema["properties"])
    row = r.df.iloc[0]
    assert r.df["age"].dtype == "Int64" and r.df["score"].dtype == "float64" and r.df["ok"].dtype == "boolean"
    assert row["name"] == r.data["name"] and row["tags"] == r.data["tags"] and pd.isna(row["schema_error"])
    assert not r.notes


@pytest.mark.parametrize("given", [json.dumps(PERSON), json.dumps({k: v for k, v in PERSON.items()
                                                                     if k != "additionalProperties"})])
def test_inline_json_schema_is_sent_strict(shell, server, given):
    shell.run(f"%%openrouter {CHAT} --schema '{given}'\nDescribe someone.")
    assert sent_format(server) == strict_format(PERSON)


def test_file_and_variable_and_dict_forms(shell, server, tmp_path):
    path = tmp_path / "person.json"
    path.write_text(json.dumps({"type": "object", "properties": PERSON["properties"]}))
    shell.run(f"%%openrouter {CHAT} --schema @{path}\nDescribe someone.")
    assert sent_format(server) == strict_format(PERSON, "person")
    shell.ns["person_schema"] = {"type": "object", "properties": PERSON["properties"], "required": ["name"]}
    shell.run(f"%%openrouter {CHAT} --schema person_schema\nDescribe someone.")
    assert sent_format(server) == strict_format(PERSON, "person_schema")
    complete("Describe someone.", CHAT, schema=PERSON, stream=False)
    assert sent_format(server) == strict_format(PERSON)


class Person:
    """Stands in for a pydantic v2 model class (pydantic is optional): the schema its
    `model_json_schema()` gives, with a nested model in $defs and an optional field."""

    @classmethod
    def model_json_schema(cls):
        return {"title": "Person", "type": "object", "$defs": {"Pet": {
            "title": "Pet", "type": "object", "properties": {"kind": {"type": "string", "title": "Kind"}},
            "required": ["kind"]}},
            "properties": {"name": {"type": "string", "title": "Name"},
                           "age": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None},
                           "pet": {"$ref": "#/$defs/Pet"}},
            "required": ["name", "pet"]}


def test_pydantic_model_class_from_the_notebook(shell, server):
    shell.ns["Person"] = Person
    r = shell.run(f"%%openrouter {CHAT} --schema Person\nDescribe someone.")
    sent = sent_format(server)["json_schema"]
    assert sent["name"] == "Person" and sent["schema"]["required"] == ["name", "age", "pet"]
    assert sent["schema"]["additionalProperties"] is False
    assert sent["schema"]["$defs"]["Pet"]["additionalProperties"] is False
    assert r.df["schema_error"].isna().all() and set(r.data["pet"]) == {"kind"}
    assert r.df["name"][0] == r.data["name"]


def test_schema_multi_wraps_items_and_gives_one_row_per_item(shell, server):
    r = shell.run(f"%%openrouter {CHAT} --schema-multi 'name, age int'\nList people.")
    assert sent_format(server) == strict_format({"type": "object", "properties": {"items": {
        "type": "array", "items": PERSON}}, "required": ["items"], "additionalProperties": False})
    assert isinstance(r.data, list) and r.data == json.loads(r.text)["items"]
    assert list(r.items.columns) == ["run", "item", "name", "age"]
    assert r.items["item"].tolist() == list(range(len(r.data))) and r.items["age"].dtype == "Int64"
    assert r.df["items"][0] == len(r.data)


@pytest.mark.parametrize("marker, error", [("invalid_json", "not valid JSON"),
                                           ("wrong_type", "$.name: expected string, got array"),
                                           ("missing_field", "$: missing field 'name'"),
                                           ("extra_field", "$: extra field 'unexpected'")])
def test_each_violation_is_a_schema_error_in_a_sweep(shell, server, marker, error):
    shell.ns["notes"] = ["fine", f"[fake:{marker}]", "also fine"]
    r = shell.run(f"%%openrouter {CHAT} --schema 'name, age int' --vars note=notes\nDescribe someone. {{note}}")
    assert r.df["schema_error"].isna().tolist() == [True, False, True]
    assert r.df["schema_error"][1].startswith(error)
    assert r.df["text"][1] and pd.isna(r.df["name"][1]) and r.data[1] is None
    assert r.data[0]["name"] == r.df["name"][0]
    assert any("1 of 3 answers do not fit the schema" in n for n in r.notes)


def test_single_run_keeps_the_text_and_notes_the_violation(shell, server):
    r = shell.run(f"%%openrouter {CHAT} --schema 'name, age int'\nDescribe someone [fake:wrong_type].")
    assert r.text and r.data is None
    assert r.notes == ["the answer does not fit the schema: $.name: expected string, got array []"]
    assert "note: the answer does not fit the schema" in pretty(r)


def test_streaming_with_a_schema_parses_at_the_end(shell, server):
    pieces = []
    r = complete("Describe someone.", CHAT, schema="name, age int", stream=True, on_text=pieces.append)
    assert server.last.body["stream"] is True and len(pieces) > 1
    assert "".join(pieces) == r.text and r.data == json.loads(r.text)


def test_labelling_a_dataframe_in_one_cell_keeps_the_inputs(shell, server):
    reviews = pd.DataFrame({"review": [f"review number {i}" for i in range(20)], "stars": range(20)},
                           index=[f"r{i}" for i in range(20)])
    shell.ns["reviews"] = reviews
    r = shell.run(f"%%openrouter {CHAT} --schema 'sentiment, confidence float, text: a short quote' "
                  "--vars row=reviews\nLabel this review ({row.stars} stars): {row.review}")
    sent = [req for req in server.requests if req.method == "POST"]  # besides the catalogue preflight
    assert len(sent) == 20
    prompts = sorted(req.body["messages"][0]["content"] for req in sent)
    assert prompts[0] == "Label this review (0 stars): review number 0"
    df = r.df
    assert df["row"].tolist() == list(reviews.index)
    assert df["review"].tolist() == reviews["review"].tolist() and df["stars"].tolist() == list(range(20))
    assert df["schema_error"].isna().all() and df["confidence"].dtype == "float64"
    assert "field_text" in df.columns and df["text"].str.startswith("{").all()  # the field is prefixed
    joined = reviews.join(df.set_index("row")[["sentiment", "confidence"]])
    assert joined["sentiment"].notna().all()


def test_bad_row_field_and_bad_specs_fail_before_sending(shell, server):
    shell.ns["reviews"] = pd.DataFrame({"review": ["a"]})
    bad = [("--vars row=reviews", "{row.reveiw}", "names no column; the columns are review"),
           ("--schema 'age integr'", "hi", "unknown type 'integr'"),
           ("--schema 'name, name'", "hi", "given twice"),
           ("--schema '{\"type\": '", "hi", "is not valid JSON"),
           ("--schema @/nonexistent.json", "hi", "cannot read the file"),
           ("--schema 'a int' --choices yes,no", "hi", "--choices and --schema together"),
           ("--schema 'a int' --response-format json", "hi", "--response-format and --schema together"),
           ("--schema a --schema-multi b", "hi", "--schema and --schema-multi together")]
    for line, prompt, message in bad:
        with pytest.raises(UsageError, match="^[^\n]*" + message.replace("(", r"\(").replace("[", r"\[")):
            shell.run(f"%%openrouter {CHAT} {line}\n{prompt}")
    assert server.requests == []


def test_structured_outputs_option_explains_schema(shell, server):
    with pytest.raises(UsageError, match="capability flag .* use --schema SPEC"):
        shell.run(f"%%openrouter {CHAT} --structured-outputs true\nhi")
    with pytest.raises(Exception, match="schema=SPEC"):
        complete("hi", CHAT, structured_outputs=True)
    assert "--structured-outputs" in shell.ip.find_cell_magic("openrouter").__doc__
    assert server.requests == []


def test_model_without_structured_outputs_gets_a_note_before_sending(shell, server, capsys):
    server.fail_next(400)  # the answer fails; the note was already out
    with pytest.raises(Exception):
        shell.run("%%openrouter mistralai/mistral-7b-instruct:free --schema 'name'\nhi")
    assert "mistral-7b-instruct:free does not list structured_outputs" in capsys.readouterr().err
    shell.run(f"%%openrouter {INSTRUCT} --schema 'name'\nhi")
    assert "gpt-3.5-turbo-instruct does not list structured_outputs" in capsys.readouterr().err
    shell.run(f"%%openrouter {CHAT} --schema 'name'\nhi")
    assert "structured_outputs" not in capsys.readouterr().err


TOOLS = json.dumps([{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])


@pytest.mark.parametrize("stream", ["--stream", "--no-stream"])
def test_tool_calls_become_rows_and_render(shell, server, stream):
    r = shell.run(f"%%openrouter {CHAT} {stream} --tools '{TOOLS}'\nCall get_weather for Paris.")
    assert r.text == ""
    calls = r.tool_calls
    assert list(calls.columns) == ["run", "call", "id", "function", "arguments", "arguments_error"]
    assert calls["function"].tolist() == ["get_weather"] and set(calls["arguments"][0]) == {"city"}
    assert calls["id"][0].startswith("call_") and calls["arguments_error"].isna().all()
    assert r.df["tool_calls"].tolist() == [1] and r.df["finish_reason"][0] == "tool_calls"
    shown = pretty(r)
    assert shown.startswith("→ get_weather({\"city\": ") and "get_weather" in r._repr_html_()


def test_tool_call_arguments_that_do_not_parse(shell, server):
    r = shell.run(f"%%openrouter {CHAT} --tool-choice required --tools '{TOOLS}'\nWeather? [fake:bad_arguments]")
    assert r.tool_calls["arguments"].isna().all()
    assert r.tool_calls["arguments_error"][0].startswith("not valid JSON")
    assert "not valid JSON" in pretty(r)


def test_no_tool_calls_column_without_tools(shell, server):
    r = shell.run(f"%%openrouter {CHAT}\nhi")
    assert "tool_calls" not in r.df.columns and r.tool_calls.empty


def test_concise_grammar_matches_its_documented_example():
    assert parse_concise("name, age int, score float, tags list, summary: one sentence") == {
        "type": "object", "additionalProperties": False,
        "required": ["name", "age", "score", "tags", "summary"],
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}, "score": {"type": "number"},
                       "tags": {"type": "array", "items": {"type": "string"}},
                       "summary": {"type": "string", "description": "one sentence"}}}
