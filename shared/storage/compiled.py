"""SQLAlchemy Core statements compiled once per shape, for the drivers Warden calls directly (asyncpg
in postgres.py, sqlite3 in sqlite.py): what SQLAlchemy's engine would do before it hands a statement
to its driver, without the engine's execution layer around every statement.

A statement is compiled by the database's SQLAlchemy dialect once per shape, and the compiled form
cached on the statement's cache key, as SQLAlchemy itself does; each execution then takes its SQL,
the order of its parameters and its values with the dialect's bind processors applied (`bound`),
and its rows come back as SQLAlchemy's results give them (`StatementResult`), the dialect's result
processors applied.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from weakref import ref

from sqlalchemy.engine import Dialect
from sqlalchemy.engine.result import IteratorResult, SimpleResultMetaData
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import Executable
from sqlalchemy.util import LRUCache

# What SQLAlchemy does to a value of a column (its type) as it comes back, for one database.
ResultProcessor = Callable[[Any, Dialect], Any]


@dataclass(frozen=True)
class Shape:
    """A statement compiled for the driver: what is sent, and what comes back."""

    compiled: SQLCompiler
    expands: bool  # `IN` of a list, rendered per execution
    returns_rows: bool | None  # None: known only once the database has read it (text())
    metadata: SimpleResultMetaData | None  # None: the columns are known only from the rows (text())


class StatementResult(IteratorResult[Any]):
    """The rows of one statement, as SQLAlchemy's results give them; `rowcount` from the driver."""

    def __init__(self, metadata: SimpleResultMetaData, rows: Sequence[Any], rowcount: int) -> None:
        super().__init__(metadata, iter(rows))
        self._rowcount = rowcount

    @property
    def rowcount(self) -> int:
        return self._rowcount


EMPTY = SimpleResultMetaData([])

_SeenKey = tuple[int, tuple[str, ...], bool]  # a statement object's id, its columns, executemany


def default_result_processor(type_: Any, dialect: Dialect) -> Any:
    return type_._cached_result_processor(dialect, None)


class Shapes:
    """The compiled forms of one database's statements."""

    def __init__(self, dialect: Dialect, result_processor: ResultProcessor = default_result_processor) -> None:
        self.dialect = dialect
        self._result_processor = result_processor
        self._shapes: LRUCache[Any, Shape] = LRUCache(500)
        self._seen: dict[_SeenKey, tuple[ref[Executable], tuple[Shape, Any, Any]]] = {}

    def shape(self, statement: Executable, params: Mapping[str, Any], many: bool) -> tuple[Shape, Any, Any]:
        """The statement compiled (cached on its cache key, as SQLAlchemy's engine does), the values
        its cache key extracted from it, and those it collected. A statement built once and run
        again (most are: shared/storage/prebuilt.py) is found by the object itself first: its cache
        key is a deep tuple whose hash Python computes anew at each lookup (10 µs for an identity
        load), and the object, unchangeable once built, always has the same answer.
        The object is held weakly: a statement built per call (a page of sessions with its
        conditions, some 27 KB of SQLAlchemy objects) leaves with its call, where a bounded table of
        them kept the last few hundred alive (10 MiB of a session service's memory in a soak)."""
        # An INSERT or UPDATE without explicit values takes its columns from the parameters given.
        columns = tuple(params) if getattr(statement, "is_dml", False) else ()
        mine = (id(statement), columns, many)
        seen = self._seen.get(mine)
        if seen is not None and seen[0]() is statement:  # the same object, not one with its old id
            return seen[1]
        cache_key = statement._generate_cache_key()  # type: ignore[attr-defined]
        if cache_key is None:
            return self._compile(statement, None, columns, many), None, None
        key = (cache_key.key, columns, many)
        shape = self._shapes.get(key)
        if shape is None:
            shape = self._shapes[key] = self._compile(statement, cache_key, columns, many)
        found = (shape, cache_key.bindparams, cache_key.params)
        self._seen[mine] = (ref(statement, self._forget(mine)), found)
        return found

    def _forget(self, mine: _SeenKey) -> Callable[[ref[Executable]], None]:
        """Drops a statement's entry once the statement is gone (before its id can be reused)."""
        seen = self._seen

        def gone(dead: ref[Executable]) -> None:
            entry = seen.get(mine)
            if entry is not None and entry[0] is dead:
                del seen[mine]

        return gone

    def _compile(self, statement: Executable, cache_key: Any, columns: tuple[str, ...], many: bool) -> Shape:
        compiled = statement._compiler(  # type: ignore[attr-defined]
            self.dialect, cache_key=cache_key, column_keys=list(columns), for_executemany=many
        )
        if compiled.insert_prefetch or compiled.update_prefetch:
            raise NotImplementedError("columns with Python-side defaults are not supported")
        dml = compiled.isinsert or compiled.isupdate or compiled.isdelete
        # A text() statement is whatever its SQL says: an UPDATE without RETURNING returns no rows, and
        # counts the rows it wrote; a SELECT returns rows. SQLAlchemy's engine asks the cursor.
        returns_rows = None if compiled.isplaintext else not dml or bool(compiled.effective_returning)
        metadata: SimpleResultMetaData | None = None
        if compiled._result_columns:
            processors = [self._result_processor(column[3], self.dialect) for column in compiled._result_columns]
            metadata = SimpleResultMetaData(
                [column[0] for column in compiled._result_columns],
                _processors=processors if any(processors) else None,
            )
        elif returns_rows is False:
            metadata = EMPTY
        expands = bool(compiled.literal_execute_params or compiled.post_compile_params)
        return Shape(compiled, expands, returns_rows, metadata)


def bound(
    shape: Shape, rows: Sequence[Mapping[str, Any]], extracted: Any, collected: Any
) -> tuple[str, list[list[Any]]]:
    """The SQL to send and each execution's positional values, as SQLAlchemy's execution context
    makes them (its bind processors applied)."""
    compiled = shape.compiled
    processors: Mapping[str, Any] = compiled._bind_processors
    sql = compiled.string
    order: Sequence[str] = compiled.positiontup or ()
    args = []
    for row in rows:
        values = compiled.construct_params(
            row, extracted_parameters=extracted, escape_names=False, _collected_params=collected
        )
        if shape.expands:
            expanded = compiled._process_parameters_for_postcompile(values)
            sql, order, values = expanded.statement, expanded.positiontup or (), dict(expanded.parameters)
            processors = {**processors, **expanded.processors}
        args.append([processors[name](values[name]) if name in processors else values[name] for name in order])
    return sql, args


def executions(parameters: Any) -> Sequence[Any]:
    """As SQLAlchemy reads `execute`'s parameters: a list of one set of values is one execution, of
    several an executemany."""
    return parameters if isinstance(parameters, list | tuple) and parameters else [parameters or {}]
