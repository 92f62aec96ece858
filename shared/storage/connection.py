"""What repositories are handed: a connection that runs SQLAlchemy Core statements.

On SQLite it is `SqliteConnection` (shared/storage/sqlite.py), on PostgreSQL `PgConnection`
(shared/storage/postgres.py): both run the statements on the driver without SQLAlchemy's execution
layer, compiled by SQLAlchemy all the same (shared/storage/compiled.py). Both answer with rows that
have attribute access (`row.id`) and the rest of what a SQLAlchemy result offers that the
repositories use.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from sqlalchemy import ScalarResult
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import Executable

# SQLAlchemy's `Row` (typed per statement by SQLAlchemy, which these untyped statements do not use).
AnyRow = Any


class Rows(Protocol):
    @property
    def rowcount(self) -> int: ...

    def all(self) -> Sequence[AnyRow]: ...

    def first(self) -> AnyRow | None: ...

    def one(self) -> AnyRow: ...

    def scalar_one(self) -> Any: ...

    def scalars(self) -> ScalarResult[Any]: ...

    def __iter__(self) -> Iterator[AnyRow]: ...


class Connection(Protocol):
    @property
    def dialect(self) -> Dialect:
        """SQLAlchemy's, for the few statements that differ by engine (`dialect.name`)."""
        ...

    async def execute(self, statement: Executable, parameters: Any = None) -> Rows: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...
