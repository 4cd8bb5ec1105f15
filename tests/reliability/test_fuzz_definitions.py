"""Item 7, ``fuzz_definitions``: arbitrary data into ``load_definitions`` and ``validate``.

Generated data - shaped like definitions (the real keys, nested at the real
places, with values of every type) or not at all - goes into the loader as a
mapping, as a JSON file and as a TOML file. The loader must return definitions
or raise DefinitionError; ``validate`` on what loads must return findings.
Any other exception is counted and fails the test.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from crm_procedures.errors import DefinitionError, Finding
from crm_procedures.procedures.definitions import dump_definitions, load_definitions
from crm_procedures.procedures.validation import validate
from reliability.figures import hypothesis_settings, record, size
from reliability.world import standard

EXAMPLES = size(150, 5000)
KEYS = [
    "version", "roles", "step_kinds", "steps", "templates", "procedures", "dictionaries",
    "label", "description", "requires", "name", "kind", "template", "duration_minutes",
    "appointment_with", "final", "params", "subject", "text", "html", "language", "matrix",
    "corrections", "close_reasons", "choices", "key", "labels", "sort_order", "START",
    "call", "call_back", "send_info", "marketeer", "client", "standard", "info",
    "send_email", "make_appointment", "plain", "*",
]  # fmt: skip
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    # Beyond 64 bits, and beyond the 4,300 digits Python turns into text.
    st.sampled_from([30, 19, -19, 5000]).map(lambda e: 10 ** abs(e) * (1 if e > 0 else -1)),
    st.floats(allow_nan=True),
    st.sampled_from(KEYS),
    st.text(max_size=30),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=12))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(keys, inner, max_size=6)),
    max_leaves=40,
)


@st.composite
def mutated_standard(draw: st.DrawFn) -> dict[str, Any]:
    """The standard definitions with a few values replaced by arbitrary ones."""
    data: dict[str, Any] = json.loads(json.dumps(dump_definitions(standard())))
    for _ in range(draw(st.integers(1, 4))):
        node: Any = data
        path = []
        while isinstance(node, (dict, list)) and node and draw(st.booleans()):
            key = draw(
                st.sampled_from(sorted(node) if isinstance(node, dict) else range(len(node)))
            )
            path.append(key)
            parent, node = node, node[key]
        if path:
            parent[path[-1]] = draw(values)
        else:
            data[draw(keys)] = draw(values)
    return data


definitions_like = st.one_of(
    mutated_standard(),
    st.dictionaries(st.sampled_from(KEYS[:7]), values, max_size=7),
    st.dictionaries(keys, values, max_size=5),
)


def _json_text(data: Any) -> str:
    """JSON text of ``data``; numbers too long for ``str()`` are written digit by digit."""
    try:
        return json.dumps(data, default=str)
    except ValueError:
        return json.dumps(data, default=str, cls=_LongNumbers)


class _LongNumbers(json.JSONEncoder):
    def iterencode(self, o: Any, _one_shot: bool = False) -> Any:
        return super().iterencode(_spell(o), _one_shot)


def _spell(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 10_000:
        return 1.0e400  # JSON writes it as Infinity: another number the loader must refuse
    if isinstance(value, dict):
        return {k: _spell(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_spell(v) for v in value]
    return value


def _toml_text(data: Any) -> str:
    """Rough TOML from plain data (JSON-ish scalars); invalid TOML is welcome too."""
    lines = []
    for key, value in data.items() if isinstance(data, dict) else []:
        lines.append(f"{json.dumps(str(key))} = {_json_text(value)}")
    return "\n".join(lines)


def test_the_loader_raises_only_definition_errors() -> None:
    outcomes: Counter[str] = Counter()
    problems: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="crm-fuzz-"))

    def attempt(how: str, source: Any) -> None:
        outcomes["inputs"] += 1
        try:
            loaded = load_definitions(source, validate=bool(outcomes["inputs"] % 2))
        except DefinitionError as exc:
            outcomes["definition_error"] += 1
            if not all(isinstance(f, Finding) for f in exc.findings):
                outcomes["other_exception"] += 1
            return
        except Exception as exc:
            outcomes["other_exception"] += 1
            if len(problems) < 5:
                problems.append(f"{how}: {type(exc).__name__}: {exc}"[:300])
            return
        try:
            findings = validate(loaded)
            assert all(isinstance(f, Finding) for f in findings)
            outcomes["loaded"] += 1
        except Exception as exc:
            outcomes["other_exception"] += 1
            if len(problems) < 5:
                problems.append(f"validate after {how}: {type(exc).__name__}: {exc}"[:300])

    @hypothesis_settings(EXAMPLES, EXAMPLES)
    @given(data=st.one_of(definitions_like, values), form=st.sampled_from(["map", "json", "toml"]))
    def fuzz(data: Any, form: str) -> None:
        outcomes["examples"] += 1
        if form == "map":
            attempt("mapping", data)
            return
        path = folder / f"defs.{form}"
        text = _json_text(data) if form == "json" else _toml_text(data)
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        attempt(form, path)

    fuzz()
    record("fuzz_definitions.examples", outcomes["examples"], f">= {EXAMPLES}")
    record("fuzz_definitions.loaded", outcomes["loaded"], ">= 1")
    record("fuzz_definitions.definition_errors", outcomes["definition_error"], ">= 1")
    record("fuzz_definitions.other_exceptions", outcomes["other_exception"], "== 0")
    assert outcomes["other_exception"] == 0, problems
    assert outcomes["examples"] >= EXAMPLES
