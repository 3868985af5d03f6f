"""Inserting many rows fast, for the billing run.

`bulk_create` builds every row as a model instance and compiles one placeholder per value;
for the run's hundreds of thousands of rows that costs more than the database's work. Here
the statement is built once per table and rows are plain tuples, each value converted by
its own field's `get_db_prep_save` (so dates, decimals and JSON reach the database exactly
as the ORM would send them), and sent with COPY on PostgreSQL, `executemany` elsewhere.
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
    if isinstance(field, models.JSONField):
        return lambda value: field.get_db_prep_save(value, connection)
    # Dates, moments and decimals repeat across the rows of a batch (one issue date, a few
    # prices): each distinct value is converted once.
    seen: dict[Any, Any] = {}

    def convert(value: Any) -> Any:
        try:
            return seen[value]
        except KeyError:
            seen[value] = converted = field.get_db_prep_save(value, connection)
            return converted

    return convert


def rows_insert(
    model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]], *, prepared: Sequence[str] = ()
) -> int:
    """Insert `rows` (tuples of values in the order of `columns`, field names) into `model`'s
    table. Columns named in `prepared` already hold database values (see `db_value`)."""
    fields: list[Any] = [model._meta.get_field(name) for name in columns]
    quote = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 - names from the model's own metadata
        quote(model._meta.db_table),
        ", ".join(quote(field.column) for field in fields),
        ", ".join(["%s"] * len(fields)),
    )
    converters = [None if field.name in prepared else _converter(field) for field in fields]
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
        if connection.vendor == "postgresql":
            # COPY: the fastest way into PostgreSQL, in the same transaction, with the same
            # constraints checked (a unique violation still fails the statement).
            copy_sql = "COPY {} ({}) FROM STDIN".format(
                quote(model._meta.db_table), ", ".join(quote(field.column) for field in fields)
            )
            with connection.wrap_database_errors, cursor.cursor.copy(copy_sql) as copy:
                for row in params:
                    copy.write_row(row)
        else:
            cursor.executemany(sql, params)
    return len(params)


def db_value(model: type[models.Model], column: str, value: Any) -> Any:
    """`value` as the database receives it for `model.column`: convert once, insert many times."""
    field: Any = model._meta.get_field(column)
    return field.get_db_prep_save(value, connection)
