"""Whether long work draws progress bars: on stderr, unless this process is a scheduler whose
stderr is its log (``finance run``, the nightly jobs), where a bar is a screen of ``\\r`` noise
between log lines and each job logs what it did instead.

    with logging_only():  # a scheduler's foreground loop
        scheduler.start()
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_logging_only = 0  # schedulers running in this process, each inside logging_only()
_counting = threading.Lock()


def bars_shown() -> bool:
    """Whether a bar may be drawn now (not while a scheduler runs in this process)."""
    return _logging_only == 0


@contextmanager
def logging_only() -> Iterator[None]:
    """No progress bars while inside: for the whole life of a scheduler's foreground loop."""
    global _logging_only
    with _counting:
        _logging_only += 1
    try:
        yield
    finally:
        with _counting:
            _logging_only -= 1
