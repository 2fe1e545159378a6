"""How values are kept in the state database's columns, and the one way listings filter and order them.

Times are stored as POSIX seconds (REAL) and shown as ISO 8601 UTC with milliseconds; structured values (the
inspection, App Store Connect ids, step outputs) as sorted JSON text, so equal values are equal strings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def equal_to(filters: Iterable[tuple[str, object | None]]) -> tuple[list[str], list[object]]:
    """SQL conditions (`column = ?`) and their parameters for every filter given a value; None means any.

    The column names come from this package's own code, never from input; values are always parameters and
    compared as text, the way the columns hold them.
    """
    where: list[str] = []
    params: list[object] = []
    for column, value in filters:
        if value is not None:
            where.append(f"{column} = ?")
            params.append(str(value))
    return where, params


def listing(table: str, where: list[str], order_by: str) -> str:
    """`SELECT *` from `table` under every condition of `where` (from equal_to and this package's own), in order."""
    sql = f"SELECT * FROM {table}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return f"{sql} ORDER BY {order_by}"
