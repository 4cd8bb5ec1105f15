"""Inbound mail: classifying a folder of mixed messages against bare ``email.parser``.

``inbound_classify_per_s`` is the number of messages per second read from a
folder of 10,000 mixed generated ``.eml`` files through
:class:`~crm_procedures.adapters.inbox_folder.FolderInbox` (1,000 at a time,
cursor followed) and classified with
:func:`crm_procedures.inbound.classify.classify`. The baseline reads the same
files and parses each with ``email.parser.BytesParser().parsebytes`` alone, in
the same run; the ratio is our time over the baseline's. Applying the results
to a store is not part of this figure yet (the services that apply them come
later).

Run: ``python benchmarks/run.py --only inbound``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from email.parser import BytesParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Figure

from crm_procedures.adapters.inbox_folder import FolderInbox
from crm_procedures.inbound.classify import Kind, classify

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "inbound" / "messages"


def _messages(n: int) -> list[bytes]:
    """``n`` messages cycling through the corpus, each with its own Message-ID."""
    templates = [p.read_bytes() for p in sorted(CORPUS.glob("*.eml"))]
    out = []
    for i in range(n):
        raw = templates[i % len(templates)]
        out.append(
            b"X-Bench-Id: %d\r\n" % i + raw.replace(b"Message-ID: <", b"Message-ID: <b%d." % i, 1)
        )
    return out


def run(quick: bool) -> list[Figure]:
    """The inbound figure (see the module documentation)."""
    n = 1_000 if quick else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for i, raw in enumerate(_messages(n)):
            (folder / f"{i:06d}.eml").write_bytes(raw)
        files = sorted(folder.glob("*.eml"))

        def baseline() -> float:
            parser = BytesParser()
            t0 = time.perf_counter()
            for path in files:
                parser.parsebytes(path.read_bytes())
            return time.perf_counter() - t0

        kinds: dict[Kind, int] = {}

        def ours() -> float:
            kinds.clear()
            inbox = FolderInbox(folder)
            t0 = time.perf_counter()
            cursor = None
            while batch := inbox.fetch(cursor, limit=1_000):
                for message in batch:
                    kind = classify(message.raw).kind
                    kinds[kind] = kinds.get(kind, 0) + 1
                cursor = batch[-1].cursor
            return time.perf_counter() - t0

        baseline()
        ours()
        t_base = min(baseline() for _ in range(3))
        t_ours = min(ours() for _ in range(3))
    assert sum(kinds.values()) == n
    ratio = t_ours / t_base
    mix = ", ".join(f"{k.value} {v}" for k, v in sorted(kinds.items()))
    return [
        Figure(
            name="inbound_classify_per_s",
            value=n / t_ours,
            unit="messages/s (folder read + classify)",
            target="report it",
            met=True,
            baseline=n / t_base,
            ratio=ratio,
            note=f"{n:,} messages; ratio = our time / bare BytesParser time; mix: {mix}",
        )
    ]


if __name__ == "__main__":
    for figure in run(quick="--quick" in sys.argv):
        print(f"{figure.name}: {figure.value:,.0f} {figure.unit}; baseline {figure.baseline:,.0f}")
        print(f"    ratio {figure.ratio:.2f}; {figure.note}")
