"""`column = ANY(%s)`: a list of ids or lane keys as one parameter on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Lookup
from django.db.models.lookups import In


class AnyOf(Lookup):
    """Match a column against a list, sent as one array parameter on PostgreSQL.

    A claim or a chunk of outcomes matches up to a few hundred ids or lane keys. As
    `IN (%s, %s, ...)` every count is a new statement text: psycopg splits it again (its query
    cache stops at 4 KB) and PostgreSQL parses a long list; as one array the text never
    changes. Measured on a 100-row claim: each of its two updates 2.5 ms faster
    (docs/benchmarks.md). SQLite has no arrays and gets `IN`. Use it directly in a filter:
    `rows.filter(AnyOf(F("id"), ids))`.
    """

    lookup_name = "any_of"
    prepare_rhs = False

    def __init__(self, lhs: Any, rhs: Iterable[Any]) -> None:
        super().__init__(lhs, list(rhs))

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, Any]:
        if connection.vendor != "postgresql":
            return In(self.lhs, self.rhs).as_sql(compiler, connection)
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs_sql} = ANY(%s)", [*lhs_params, self.rhs]
