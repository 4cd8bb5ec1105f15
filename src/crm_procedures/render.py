"""Pictures of procedures: Mermaid, Graphviz DOT and matrix tables (X3).

``from crm_procedures import render; render.mermaid(procedure)``. See
:mod:`crm_procedures.procedures.render`.
"""

from crm_procedures.procedures.render import dot, matrix_table, mermaid

__all__ = ["dot", "matrix_table", "mermaid"]
