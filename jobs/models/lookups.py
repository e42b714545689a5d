"""`pk__among=ids`: `pk__in=ids` as one parameter, for the refresh engine's hot queries.

`__in` writes one placeholder per id, so every batch size is a different statement: Django
prepares each value on its own and psycopg re-parses the whole statement every time (its
parse cache holds short statements only). At hundreds of ids a query, four times a second
per account, that was 7-15 % of the loops' CPU samples in a 100,000-job pass (bench/spy.py);
taking it out measured 2.62 -> 2.42 ms of CPU a job at 10,000 on PostgreSQL. Here the ids go
as one value: an array on PostgreSQL (`= ANY(%s)`), a JSON list on SQLite (`json_each`,
built into every SQLite Django supports), a plain IN elsewhere. The statement is the same
whatever the count, and the ids are ints, checked here.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.core.exceptions import EmptyResultSet
from django.db import models
from django.db.models import Lookup

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.sql.compiler import SQLCompiler


class Among(Lookup):
    lookup_name = "among"
    prepare_rhs = False

    def process_rhs(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper
    ) -> tuple[str, tuple[Any, ...]]:
        ids = [int(value) for value in self.rhs]
        if not ids:
            raise EmptyResultSet  # as `__in=[]`: no query for "none of nothing"
        if connection.vendor == "postgresql":
            return "ANY(%s)", (ids,)
        if connection.vendor == "sqlite":
            return "(SELECT value FROM json_each(%s))", (json.dumps(ids),)
        return "(" + ", ".join(["%s"] * len(ids)) + ")", tuple(ids)

    def as_sql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper
    ) -> tuple[str, tuple[Any, ...]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        operator = "=" if connection.vendor == "postgresql" else "IN"
        return f"{lhs} {operator} {rhs}", (*lhs_params, *rhs_params)


models.IntegerField.register_lookup(Among)
models.ForeignKey.register_lookup(Among)
