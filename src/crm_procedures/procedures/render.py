"""Pictures of a procedure for people (X3): Mermaid, Graphviz DOT and matrix tables.

All output is deterministic: nodes follow the procedure's step order, edges
are sorted, and labels are escaped for the target format. Without
``definitions`` the pictures show step and role keys; with them, the names
people read.
"""

from __future__ import annotations

from collections.abc import Iterator

from crm_procedures.procedures.procedure import START, Definitions, Procedure

__all__ = ["dot", "matrix_table", "mermaid"]

_START_LABEL = "START"


def _nodes(procedure: Procedure) -> list[str]:
    """Step keys in procedure order, then any other referenced key, sorted."""
    known = list(dict.fromkeys(procedure.steps))
    seen = set(known)
    extra: set[str] = set()
    for rows in procedure.matrix.values():
        for ref, targets in rows.items():
            if ref is not START and ref not in seen:
                extra.add(ref)
            extra.update(t for t in targets if t not in seen)
    return known + sorted(extra)


def _roles(procedure: Procedure, role: str | None) -> list[str]:
    if role is None:
        return list(procedure.matrix)
    return [role]


def _edges(procedure: Procedure, role: str | None) -> Iterator[tuple[str | None, str, list[str]]]:
    """(source or None for START, target, roles taking the edge), in a stable order."""
    order = {key: i for i, key in enumerate(_nodes(procedure))}
    roles = _roles(procedure, role)
    edges: dict[tuple[str | None, str], list[str]] = {}
    for r in roles:
        for ref, targets in procedure.matrix.get(r, {}).items():
            src = None if ref is START else ref
            for t in targets:
                edges.setdefault((src, t), []).append(r)

    def rank(edge: tuple[str | None, str]) -> tuple[int, int]:
        src, dst = edge
        return (-1 if src is None else order[src], order[dst])

    for edge in sorted(edges, key=rank):
        yield edge[0], edge[1], edges[edge]


def _step_label(key: str, definitions: Definitions | None) -> str:
    if definitions is not None and key in definitions.steps:
        return definitions.steps[key].name or key
    return key


def _role_label(key: str, definitions: Definitions | None) -> str:
    if definitions is not None and key in definitions.roles:
        return definitions.roles[key].title
    return key


def _mermaid_text(text: str) -> str:
    # Mermaid entity codes keep quotes, pipes and markup characters literal.
    return "".join(f"#{ord(c)};" if c in '"#<>|&{}[]()' else c for c in " ".join(text.split()))


def mermaid(
    procedure: Procedure, role: str | None = None, *, definitions: Definitions | None = None
) -> str:
    """The procedure's graph as a Mermaid flowchart.

    With ``role`` only that role's moves are drawn; otherwise every move, each
    edge labelled with the roles that may take it.
    """
    ids = {key: f"s{i}" for i, key in enumerate(_nodes(procedure))}
    lines = ["flowchart LR", f'    start(("{_START_LABEL}"))']
    for key, node in ids.items():
        lines.append(f'    {node}["{_mermaid_text(_step_label(key, definitions))}"]')
    for src, dst, roles in _edges(procedure, role):
        a = "start" if src is None else ids[src]
        if role is None:
            label = ", ".join(_role_label(r, definitions) for r in roles)
            lines.append(f'    {a} -->|"{_mermaid_text(label)}"| {ids[dst]}')
        else:
            lines.append(f"    {a} --> {ids[dst]}")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    return '"' + " ".join(text.split()).replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot(
    procedure: Procedure, role: str | None = None, *, definitions: Definitions | None = None
) -> str:
    """The procedure's graph as Graphviz DOT text (``dot -Tsvg`` draws it).

    With ``role`` only that role's moves are drawn; otherwise every move, each
    edge labelled with the roles that may take it.
    """
    ids = {key: f"s{i}" for i, key in enumerate(_nodes(procedure))}
    lines = [
        f"digraph {_dot_text(procedure.key)} {{",
        "    rankdir=LR;",
        "    node [shape=box, style=rounded];",
        f"    start [shape=circle, label={_dot_text(_START_LABEL)}];",
    ]
    for key, node in ids.items():
        lines.append(f"    {node} [label={_dot_text(_step_label(key, definitions))}];")
    for src, dst, roles in _edges(procedure, role):
        a = "start" if src is None else ids[src]
        if role is None:
            label = ", ".join(_role_label(r, definitions) for r in roles)
            lines.append(f"    {a} -> {ids[dst]} [label={_dot_text(label)}];")
        else:
            lines.append(f"    {a} -> {ids[dst]};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("\\", "\\\\").replace("|", "\\|")


def matrix_table(
    procedure: Procedure, role: str | None = None, *, definitions: Definitions | None = None
) -> str:
    """The matrix as Markdown tables, one per role, like the seed's checkbox screen.

    Rows are "after" (START, then each step), columns "may do next"; a check
    mark means the role may perform the column's step after the row's.
    """
    nodes = _nodes(procedure)
    heads = [_cell(_step_label(k, definitions)) for k in nodes]
    blocks: list[str] = []
    for r in _roles(procedure, role):
        rows = procedure.matrix.get(r, {})
        lines = [
            f"**{_cell(_role_label(r, definitions))}**",
            "",
            "| after \\ may do next | " + " | ".join(heads) + " |",
            "|---|" + "|".join(":-:" for _ in heads) + "|",
        ]
        for ref, label in [(START, _START_LABEL)] + [
            (k, _cell(_step_label(k, definitions))) for k in nodes
        ]:
            allowed = rows.get(ref, frozenset())
            marks = " | ".join("✓" if k in allowed else " " for k in nodes)
            lines.append(f"| {label} | {marks} |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
