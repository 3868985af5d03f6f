"""Inserting many rows fast, for the billing run.

`bulk_create` builds every row as a model instance and compiles one placeholder per value;
for the run's hundreds of thousands of rows that costs more than the database's work. Here
the statement is built once per table and rows are plain tuples, each value converted by
its own field's `get_db_prep_save` (so dates, decimals and JSON reach the database exactly
as the ORM would send them), and executed with `executemany`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import connection, models

# Fields whose Python values the database drivers take as they are.
_PLAIN = (
    models.AutoField,
    models.BigIntegerField,
    models.IntegerField,
    models.SmallIntegerField,
    models.PositiveIntegerField,
    models.PositiveSmallIntegerField,
    models.CharField,
    models.TextField,
    models.BooleanField,
    models.ForeignKey,
)


def _converter(field: models.Field[Any, Any]) -> Callable[[Any], Any] | None:
    if isinstance(field, _PLAIN) and not isinstance(field, models.JSONField):
        return None
    return lambda value: field.get_db_prep_save(value, connection)


def rows_insert(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert `rows` (tuples of values in the order of `columns`, field names) into `model`'s table."""
    fields: list[Any] = [model._meta.get_field(name) for name in columns]
    quote = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 - names from the model's own metadata
        quote(model._meta.db_table),
        ", ".join(quote(field.column) for field in fields),
        ", ".join(["%s"] * len(fields)),
    )
    converters = [_converter(field) for field in fields]
    if all(convert is None for convert in converters):
        params = [tuple(row) for row in rows]
    else:
        params = [
            tuple(value if convert is None else convert(value) for value, convert in zip(row, converters, strict=True))
            for row in rows
        ]
    if not params:
        return 0
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
    return len(params)
