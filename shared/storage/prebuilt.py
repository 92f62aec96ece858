"""Statements built once, their values bound at each execution.

SQLAlchemy caches a statement's compiled SQL, but a statement built per call with its values in it
(`insert(t).values(**row)`) is still built, its values coerced into bind parameters, and its cache
key computed, every time: under login load that was a tenth of the event loop. A statement built
once with named bind parameters keeps its cache key, and its values travel beside it.

Names are prefixed per statement (`flow_id`, `session_id`, ...): a unit of work sends several such
statements to PostgreSQL as one (`uow._as_one`), where their parameters share one namespace.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Insert, Table, bindparam, insert


def insert_of(table: Table, prefix: str, columns: Iterable[str]) -> Insert:
    """`INSERT INTO table (columns) VALUES (:prefix_column, ...)`."""
    return insert(table).values({column: bindparam(f"{prefix}_{column}") for column in columns})


def bound(prefix: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """A row's values under the names `insert_of` gave them."""
    return {f"{prefix}_{column}": value for column, value in row.items()}
