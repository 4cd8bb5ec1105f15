"""X3: a procedure drawn for people as Mermaid, Graphviz DOT and a checkbox table."""

from __future__ import annotations

from crm_procedures import render
from crm_procedures.procedures.procedure import START, Definitions, Procedure
from crm_procedures.procedures.step import Role, Step

TRICKY = Procedure(
    "q",
    'Quote "this"',
    steps=("a", "b"),
    matrix={"m": {START: {"a"}, "a": {"b", "a"}}, "x": {"a": {"b"}}},
)
TRICKY_DEFS = Definitions(
    roles=[Role("m", 'Sales | "A" <team>'), Role("x")],
    steps=[Step("a", 'Say "hi" | wave'), Step("b", "B\\C")],
    procedures=[TRICKY],
)


def test_mermaid_draws_every_move_labelled_with_its_roles(
    standard: Procedure, definitions: Definitions
) -> None:
    text = render.mermaid(standard, definitions=definitions)
    assert text.startswith("flowchart LR\n")
    assert '    start -->|"Marketeer, Project leader"| s0' in text
    assert '    s3 -->|"Client"| s4' in text
    assert render.mermaid(standard, definitions=definitions) == text


def test_mermaid_for_one_role_draws_only_its_moves(standard: Procedure) -> None:
    text = render.mermaid(standard, "client")
    assert text.count("-->") == 2
    assert "s3 --> s4" in text
    assert "s4 --> s4" in text


def test_mermaid_escapes_quotes_and_pipes() -> None:
    text = render.mermaid(TRICKY, definitions=TRICKY_DEFS)
    assert 's0["Say #34;hi#34; #124; wave"]' in text
    assert "#124;" in text
    assert "#60;team#62;" in text


def test_dot_is_a_digraph_with_escaped_labels() -> None:
    text = render.dot(TRICKY, definitions=TRICKY_DEFS)
    assert text.startswith('digraph "q" {')
    assert 's0 [label="Say \\"hi\\" | wave"];' in text
    assert 's1 [label="B\\\\C"];' in text
    assert "start -> s0" in text
    assert text.rstrip().endswith("}")


def test_dot_for_one_role(standard: Procedure) -> None:
    text = render.dot(standard, "marketeer")
    assert "start -> s0;" in text
    assert "s3 ->" not in text


def test_matrix_table_has_a_row_per_last_step_and_a_check_per_allowed_move(
    standard: Procedure, definitions: Definitions
) -> None:
    table = render.matrix_table(standard, "marketeer", definitions=definitions)
    lines = table.splitlines()
    assert lines[0] == "**Marketeer**"
    assert lines[2].startswith("| after \\ may do next | Call | Call back |")
    assert lines[4] == "| START | ✓ |   |   |   |   |"
    assert lines[5] == "| Call |   | ✓ | ✓ | ✓ |   |"
    assert table.count("✓") == 1 + 3 + 3 + 1


def test_matrix_table_for_all_roles_has_one_table_each(standard: Procedure) -> None:
    table = render.matrix_table(standard)
    assert [line for line in table.splitlines() if line.startswith("**")] == [
        "**marketeer**",
        "**client**",
        "**project_leader**",
    ]


def test_matrix_table_escapes_pipes() -> None:
    table = render.matrix_table(TRICKY, "m", definitions=TRICKY_DEFS)
    assert 'Say "hi" \\| wave' in table
    assert "B\\\\C" in table
