"""The local validator: the first violation, named, for each kind; fenced JSON tolerated."""

import pytest

from or_magic.analysis.validate import first_violation, parse_answer
from or_magic.run.schema import parse_concise

SCHEMA = parse_concise("name, age int, score float, ok bool, tags list")
GOOD = {"name": "a", "age": 3, "score": 1, "ok": True, "tags": ["x"]}


def test_a_fitting_answer_has_no_violation():
    assert parse_answer('{"name": "a", "age": 3, "score": 1.5, "ok": false, "tags": []}', SCHEMA)[1] is None
    assert parse_answer('```json\n{"name": "a", "age": 3.0, "score": 1, "ok": true, "tags": []}\n```', SCHEMA)[1] is None


@pytest.mark.parametrize("change, message", [
    ({"age": "3"}, '$.age: expected integer, got string "3"'),
    ({"age": 3.5}, "$.age: expected integer, got number 3.5"),
    ({"ok": 1}, "$.ok: expected boolean, got integer 1"),
    ({"score": True}, "$.score: expected number, got boolean true"),
    ({"tags": ["x", 2]}, "$.tags[1]: expected string, got integer 2"),
    ({"extra": 1}, "$: extra field 'extra' (allowed: name, age, score, ok, tags)"),
])
def test_each_wrong_value_is_named(change, message):
    assert first_violation({**GOOD, **change}, SCHEMA) == message


def test_missing_field_and_not_json():
    assert first_violation({k: v for k, v in GOOD.items() if k != "age"}, SCHEMA) == "$: missing field 'age'"
    assert parse_answer('{"name": ', SCHEMA) == (None, "not valid JSON: Expecting value at char 8")
    assert parse_answer("  ", SCHEMA) == (None, "not valid JSON: the answer is empty")
    assert first_violation([1], SCHEMA) == "$: expected object, got array [1]"


def test_enum_ref_and_alternatives():
    schema = {"type": "object", "$defs": {"Mood": {"enum": ["happy", "sad"]}},
              "properties": {"mood": {"$ref": "#/$defs/Mood"}, "n": {"anyOf": [{"type": "integer"}, {"type": "null"}]}},
              "required": ["mood", "n"]}
    assert first_violation({"mood": "happy", "n": None}, schema) is None
    assert first_violation({"mood": "meh", "n": 1}, schema) == "$.mood: string \"meh\" is not one of 'happy', 'sad'"
    assert first_violation({"mood": "sad", "n": "x"}, schema).startswith("$.n: string \"x\" fits none")
