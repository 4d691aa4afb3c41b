"""The --schema SPEC forms and the concise grammar (property-tested), nothing sent."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from or_magic.core.errors import InvalidOption
from or_magic.run.schema import parse_concise, resolve_schema, strict

TYPE_NAMES = {"str": "string", "string": "string", "int": "integer", "integer": "integer", "float": "number",
              "number": "number", "bool": "boolean", "boolean": "boolean"}
names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
types = st.sampled_from([None, *TYPE_NAMES, "list", "list[int]", "list[bool]", "INT", "Float"])
descriptions = st.one_of(st.none(), st.text(st.characters(blacklist_characters=",\n\r", blacklist_categories=("Cs",)),
                                            min_size=1, max_size=12).filter(str.strip))
fields = st.lists(st.tuples(names, types, descriptions), min_size=1, max_size=6, unique_by=lambda f: f[0])


def write(field, newline=False):
    name, kind, description = field
    text = name + (f" {kind}" if kind else "")
    return text + (f": {description}" if description is not None else "")


def expected_type(kind):
    if kind is None:
        return {"type": "string"}
    kind = kind.lower()
    if kind.startswith("list"):
        inner = kind[5:-1] if "[" in kind else "str"
        return {"type": "array", "items": {"type": TYPE_NAMES[inner]}}
    return {"type": TYPE_NAMES[kind]}


@given(fields, st.booleans())
def test_every_written_field_list_parses_to_its_schema(spec_fields, by_line):
    text = ("\n" if by_line else ", ").join(write(f) for f in spec_fields)
    schema = parse_concise(text)
    assert schema["required"] == [f[0] for f in spec_fields] == list(schema["properties"])
    assert schema["additionalProperties"] is False and schema["type"] == "object"
    for name, kind, description in spec_fields:
        prop = dict(schema["properties"][name])
        assert prop.pop("description", None) == (description.strip() if description else None)
        assert prop == expected_type(kind)


@given(st.text(max_size=40))
def test_any_text_parses_or_is_a_one_line_error(text):
    try:
        schema = parse_concise(text)
    except InvalidOption as exc:
        assert "\n" not in str(exc).replace("\\n", "") or "\n" in text  # the spec is quoted with repr
        assert str(exc).startswith("--schema ")
        return
    assert schema["properties"] and schema["required"] == list(schema["properties"])


def test_descriptions_may_hold_commas_one_field_per_line():
    schema = parse_concise("summary: one sentence, plain words\nscore float: 0 to 1")
    assert schema["properties"]["summary"]["description"] == "one sentence, plain words"
    assert schema["required"] == ["summary", "score"]


@pytest.mark.parametrize("spec, message", [
    ("", "is empty"), ("name,", "empty field"), ("name age int", "more than a name and a type"),
    ("1name", "field name '1name'"), ("a tuple", "unknown type 'tuple'"), (": x", "no name"),
    ("a, a int", "given twice"), ("{bad json", "not valid JSON"), ('[1, 2]', "must be a JSON object"),
])
def test_bad_specs_are_one_line_errors(spec, message):
    with pytest.raises(InvalidOption, match=message) as caught:
        resolve_schema(spec, {})
    assert "\n" not in str(caught.value)


def test_variable_forms_and_their_errors():
    assert resolve_schema("person", {"person": {"properties": {"a": {"type": "string"}}}}).name == "person"
    with pytest.raises(InvalidOption, match="is a list; give a JSON-schema dict"):
        resolve_schema("person", {"person": [1]})
    with pytest.raises(InvalidOption, match="must describe an object"):
        resolve_schema('{"type": "array"}', {})
    assert resolve_schema("person", {}).fields == ["person"]  # not defined: a one-field concise spec


def test_strict_fills_every_object_and_keeps_the_input():
    given_schema = {"type": "object", "properties": {"a": {"type": "object", "properties": {"b": {"type": "integer"}}},
                                                     "c": {"type": "array", "items": {"type": "object",
                                                                                      "properties": {"d": {}}}}}}
    before = json.dumps(given_schema)
    out = strict(given_schema)
    assert json.dumps(given_schema) == before
    assert out["required"] == ["a", "c"] and out["properties"]["a"]["required"] == ["b"]
    assert out["properties"]["c"]["items"] == {"type": "object", "properties": {"d": {}}, "required": ["d"],
                                               "additionalProperties": False}


def test_wire_name_and_multi_wrapping(tmp_path):
    path = tmp_path / "my schema.v2.json"
    path.write_text('{"properties": {"a": {"type": "string"}}}')
    assert resolve_schema(f"@{path}", {}).name == "my_schema_v2"  # OpenRouter allows [A-Za-z0-9_-]
    multi = resolve_schema("a", {}, multi=True)
    assert multi.wire_schema["properties"]["items"]["items"] == parse_concise("a")
    assert multi.response_format()["json_schema"]["schema"]["required"] == ["items"]
