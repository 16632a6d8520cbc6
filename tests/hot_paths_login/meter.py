"""Counts what each HTTP request of a login costs the server: SQL statements, database round
trips (statements + BEGIN + COMMIT/ROLLBACK + the pool's pre-ping on checkout) and the CPU of
the thread that served it (``time.thread_time``), keyed by the Flask endpoint.

Used by the statement-budget tests and by ``measure.py`` (before/after figures)."""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, has_request_context, request
from sqlalchemy import event

from psc_idp.db import db


@dataclass
class Cost:
    requests: int = 0
    statements: int = 0
    round_trips: int = 0
    cpu: float = 0.0
    texts: collections.Counter[str] = field(default_factory=collections.Counter)


class Meter:
    """Attach to an app once; ``costs`` accumulates per endpoint until ``reset()``."""

    def __init__(self, app: Flask):
        self.costs: dict[str, Cost] = collections.defaultdict(Cost)
        self._local = threading.local()
        self._lock = threading.Lock()
        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "begin", self._trip)
        event.listen(engine, "commit", self._trip)
        event.listen(engine, "rollback", self._trip)
        if engine.pool._pre_ping:  # type: ignore[attr-defined]
            event.listen(engine.pool, "checkout", self._trip_pool)
        app.before_request(self._begin)
        app.teardown_request(self._end)

    def _endpoint(self) -> str | None:
        if not has_request_context():
            return None
        return getattr(self._local, "key", None)

    def _statement(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        key = self._endpoint()
        if key is not None:
            cost = self.costs[key]
            with self._lock:
                cost.statements += 1
                cost.round_trips += 1
                cost.texts[" ".join(statement.split())[:140]] += 1

    def _trip(self, *args: Any) -> None:
        key = self._endpoint()
        if key is not None:
            with self._lock:
                self.costs[key].round_trips += 1

    def _trip_pool(self, *args: Any) -> None:
        self._trip()

    def _begin(self) -> None:
        self._local.key = f"{request.method} {request.endpoint}"
        self._local.cpu = time.thread_time()
        with self._lock:
            self.costs[self._local.key].requests += 1

    def _end(self, *args: Any) -> None:
        key = getattr(self._local, "key", None)
        if key is not None:
            with self._lock:
                self.costs[key].cpu += time.thread_time() - self._local.cpu
        self._local.key = None

    def reset(self) -> None:
        with self._lock:
            self.costs.clear()

    def total(self) -> Cost:
        out = Cost()
        for cost in self.costs.values():
            out.requests += cost.requests
            out.statements += cost.statements
            out.round_trips += cost.round_trips
            out.cpu += cost.cpu
        return out
