"""Hot-path statements compiled once per dialect and run on the driver's cursor.

SQLAlchemy Core costs about 95 µs of client CPU per statement through
``Connection.execute`` even when the statement object is built once (execution context,
compiled-cache lookup, result metadata); the same statement on the DBAPI cursor costs about
30 µs (PostgreSQL, measured: docs/statement-budget.md). A login sends 19 statements, an e-CPS
login about 45, so the hot paths' data-access layers (``oidc/store.py``,
``directory/store.py``, ``oidc/interaction_store.py``...) declare their statements as
``Prepared`` and run them here. What SQLAlchemy would do is kept, from its public API:

- the SQL text is SQLAlchemy's own compilation for the dialect (casts, quoting, RETURNING);
- parameters and results go through the column types' bind and result processors (SQLite's
  datetimes as text, JSON, booleans), exactly as ``Connection.execute`` converts them;
- it runs on the request's connection (``db.session.connection()``): same transaction, same
  commit or rollback as the rest of the request;
- ``before_cursor_execute`` listeners still hear every statement (the statement budget counts
  them);
- a driver error becomes SQLAlchemy's ``DBAPIError`` subclass (``IntegrityError``,
  ``DataError``...), which the error handlers know, and a lost connection is invalidated.

Statements the fast path does not handle (``expanding`` IN lists) run through SQLAlchemy.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

from .db import db

Params = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None


class _Compiled:
    """One statement's SQL for one dialect and parameter set, with its converters."""

    __slots__ = ("sql", "names", "defaults", "binders", "positional", "row_type",
                 "result_types", "returns_rows", "processors", "usable")

    def __init__(self, statement: Any, dialect: Dialect, keys: Sequence[str]):
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        self.sql: str = compiled.string
        # Python-side column defaults and IN-list expansion need SQLAlchemy's execution
        # context: such statements are left to it.
        self.usable = not (getattr(compiled, "insert_prefetch", None) or
                           getattr(compiled, "update_prefetch", None) or
                           "POSTCOMPILE" in self.sql)
        self.processors: list[Any] | None = None
        self.positional = bool(dialect.positional)
        self.names: list[str] = list(compiled.positiontup or ()) if self.positional \
            else list(compiled.binds)
        self.defaults: dict[str, Any] = {}
        self.binders: dict[str, Callable[[Any], Any]] = {}
        for name, bind in compiled.binds.items():
            if not bind.required or bind.callable is not None:
                self.defaults[name] = bind.effective_value
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.binders[name] = processor
        self.returns_rows = isinstance(statement, sa.Select) or bool(statement.exported_columns)
        columns = list(statement.exported_columns) if self.returns_rows else []
        self.result_types = [column.type.dialect_impl(dialect) for column in columns]
        fields = list(map(str, statement.exported_columns.keys())) if self.returns_rows else []
        self.row_type = _row_type(fields)

    def parameters(self, given: Mapping[str, Any]) -> Any:
        values = {}
        for name in self.names:
            value = given[name] if name in given else self.defaults[name]
            binder = self.binders.get(name)
            values[name] = binder(value) if binder is not None else value
        if self.positional:
            return tuple(values[name] for name in self.names)
        return values


def _row_type(fields: list[str]) -> type:
    base = namedtuple("Row", fields, rename=True)  # type: ignore[misc]
    names = dict(zip(base._fields, fields, strict=True))

    class Row(base):  # type: ignore[misc,valid-type]
        """A result row: attribute access, ``row[i]``, and ``_mapping`` as SQLAlchemy's."""

        __slots__ = ()

        @property
        def _mapping(self) -> dict[str, Any]:
            return {names[key]: value for key, value in zip(base._fields, self, strict=True)}

    return Row


class Result:
    """The rows (all fetched at once: hot-path results are a few rows) and the row count."""

    __slots__ = ("rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int):
        self.rows, self.rowcount = rows, rowcount

    def first(self) -> Any:
        return self.rows[0] if self.rows else None

    def all(self) -> list[Any]:
        return self.rows

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None

    def scalar_one(self) -> Any:
        if len(self.rows) != 1:
            raise sa.exc.NoResultFound("expected one row") if not self.rows else \
                sa.exc.MultipleResultsFound("expected one row")
        return self.rows[0][0]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)


class Prepared:
    """A Core statement built once at import, run by ``execute`` on the request's connection."""

    __slots__ = ("statement", "_compiled")

    def __init__(self, statement: Any):
        self.statement = statement
        self._compiled: dict[tuple[str, tuple[str, ...]], _Compiled | None] = {}

    def execute(self, params: Params = None,
                connection: Connection | None = None) -> Result | Any:
        connection = connection or request_connection()
        many = isinstance(params, Sequence) and not isinstance(params, str | bytes)
        rows = list(params) if many else [params or {}]  # type: ignore[arg-type]
        if not rows:
            return Result([], 0)
        key = (connection.dialect.name, tuple(sorted(rows[0])))
        compiled = self._compiled.get(key, _MISSING)
        if compiled is _MISSING:
            compiled = self._compile(connection.dialect, key[1])
            self._compiled[key] = compiled
        if compiled is None:  # not for the fast path: SQLAlchemy runs it
            return connection.execute(self.statement, params)  # type: ignore[arg-type]
        return _run(connection, compiled, rows, many)

    def _compile(self, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled | None:
        compiled = _Compiled(self.statement, dialect, keys)
        return compiled if compiled.usable else None


_MISSING: Any = object()
_CONNECTION = "psc_idp.prepared.connection"


def request_connection() -> Connection:
    """``db.session.connection()``, remembered for the session's current transaction: the
    session's own lookup walks its transaction state machine on every call, about as costly as
    running a prepared statement. A new transaction (after a commit or rollback) asks again."""
    session = db.session()
    # the innermost transaction: a SAVEPOINT (begin_nested) is emitted by the session when
    # its nested transaction first asks for the connection, so that one must ask
    transaction = session.get_nested_transaction() or session.get_transaction()
    if transaction is not None and transaction.is_active:
        known = session.info.get(_CONNECTION)
        if known is not None and known[0] is transaction:
            return known[1]  # type: ignore[no-any-return]
    connection = session.connection()
    session.info[_CONNECTION] = (
        session.get_nested_transaction() or session.get_transaction(), connection)
    return connection


def _run(connection: Connection, compiled: _Compiled, rows: list[Mapping[str, Any]],
         many: bool) -> Result:
    dialect = connection.dialect
    raw = connection.connection.dbapi_connection
    parameters = [compiled.parameters(row) for row in rows]
    sent = parameters if many else parameters[0]
    cursor = raw.cursor()  # type: ignore[union-attr]
    try:
        if connection.dispatch.before_cursor_execute:
            connection.dispatch.before_cursor_execute(
                connection, cursor, compiled.sql, sent, None, many)
        if many:
            cursor.executemany(compiled.sql, sent)
        else:
            cursor.execute(compiled.sql, sent)
        fetched = cursor.fetchall() if compiled.returns_rows else []
        if compiled.processors is None and compiled.returns_rows and cursor.description:
            # the column types' converters, found once (psycopg builds the description's
            # column objects anew on each access)
            compiled.processors = [
                kind.result_processor(dialect, column[1]) for kind, column in
                zip(compiled.result_types, cursor.description, strict=False)]
        count = cursor.rowcount
    except dialect.loaded_dbapi.Error as error:
        if dialect.is_disconnect(error, raw, cursor):
            connection.invalidate(error)
        raise sa.exc.DBAPIError.instance(
            compiled.sql, sent, error, dialect.loaded_dbapi.Error,
            dialect=dialect, ismulti=many) from error
    finally:
        cursor.close()
    if not fetched:
        return Result([], count)
    return Result(_convert(compiled, fetched), count)


def _convert(compiled: _Compiled, fetched: list[Any]) -> list[Any]:
    processors = compiled.processors or []
    make = compiled.row_type
    if not any(processors):
        return [make(*row) for row in fetched]
    return [make(*(p(v) if p is not None and v is not None else v
                   for p, v in zip(processors, row, strict=False))) for row in fetched]
