"""One bounded memo for the library's caches of pure results (internal).

Several hot paths remember results that depend only on their key: parsed
e-mail headers, built SQL statements, recased words. Each memo is a plain
dict that starts afresh when it reaches its limit, which bounds memory
without the bookkeeping of an LRU (the keys that matter come back at once).
"""

from __future__ import annotations

from typing import Any


def remember(memo: dict[Any, Any], key: Any, value: Any, limit: int) -> None:
    """Store ``value`` under ``key``, first emptying ``memo`` when it holds ``limit`` entries."""
    if len(memo) >= limit:
        memo.clear()
    memo[key] = value
