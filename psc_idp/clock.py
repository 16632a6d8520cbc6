"""The provider's clock: real time plus an offset that tests (and demo/test-mode operators) move.

Validity periods measured in days and years (the 48 h e-CPS activation delay, the 3-year
validity) are tested by moving this clock, never by sleeping. Production mode refuses offsets.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    @property
    def offset(self) -> float:
        return self._offset

    def set_offset(self, seconds: float) -> None:
        with self._lock:
            self._offset = float(seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += float(seconds)

    def timestamp(self) -> float:
        return time.time() + self._offset

    def now(self) -> datetime:
        """Naive UTC, as every timestamp in the database."""
        return datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=self._offset)


def provider_clock() -> Clock:
    from flask import current_app

    return current_app.extensions["psc_idp"].clock
