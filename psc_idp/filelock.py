"""An exclusive lock on a lock file, across threads and processes (the chip of a virtual card,
the local authority's folder): ``flock`` on a file descriptor opened for this call only, so
two threads of one process exclude each other too."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    """Held while the block runs; ``lock_file`` is created (0600) if absent."""
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
