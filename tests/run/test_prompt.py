from or_magic.run.prompt import chat_messages, completion_prompt, fill_template


def test_fields_filled_from_namespace():
    assert fill_template("Write about {topic}.", {"topic": "cats"}) == ("Write about cats.", [])


def test_json_and_code_sent_unchanged():
    text = 'Return {"a": {"b": [1, 2]}} and f() { return x + 1; } {{ raw'
    assert fill_template(text, {"a": 1, "x": 2}) == (text, [])


def test_escaped_field_is_literal():
    assert fill_template("{{topic}} vs {topic}", {"topic": "cats"})[0] == "{topic} vs cats"


def test_undefined_field_kept_and_reported():
    assert fill_template("about {nope} {nope}", {}) == ("about {nope} {nope}", ["nope"])


def test_messages_and_prompt():
    assert chat_messages("hi", "be brief") == [{"role": "system", "content": "be brief"},
                                               {"role": "user", "content": "hi"}]
    assert chat_messages("hi") == [{"role": "user", "content": "hi"}]
    assert completion_prompt("hi", "be brief") == "be brief\n\nhi"


def test_row_fields_read_a_dataframe_row_and_leave_code_alone():
    from or_magic.run.prompt import Row, row_fields, template_fields

    row = Row("r1", {"review": "great", "stars": 5})
    assert fill_template("{row.review} ({row.stars}) {self.x} {row}", {"row": row, "self": 1}) == (
        "great (5) {self.x} review: great\nstars: 5", [])
    assert fill_template("{row.nope}", {"row": row}) == ("{row.nope}", ["row.nope"])
    assert row_fields("{row.a} {row.b} {row.a} {x}") == {"row": ["a", "b"]}
    assert template_fields("{row.a} {x}") == ["x"]


def test_qualify_fields_reads_plain_column_fields_from_the_row_and_names_the_others():
    from or_magic.run.prompt import qualify_fields

    text, unknown = qualify_fields('{a} {{a}} {b.c} {x} {"j": 1} {a}{x}', "row", ["a", "b"])
    assert text == '{row.a} {{a}} {b.c} {x} {"j": 1} {row.a}{x}'
    assert unknown == ["x"]
