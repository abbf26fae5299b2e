"""The core's small error hierarchy: the CLI prints any of these as one line and exits 1."""

from __future__ import annotations

from pathlib import Path


class VerticalsError(Exception):
    """A user-facing error: the message says what went wrong and what to do."""


class DataError(VerticalsError):
    """Bad input data. Formats as ``path, row N: problem — fix``.

    >>> str(DataError("t.csv", 3, "empty text", "fill the cell or drop the row"))
    't.csv, row 3: empty text — fill the cell or drop the row'
    """

    def __init__(self, path: str | Path, row: int | None, problem: str, fix: str = "", unit: str = "row") -> None:
        """``unit``: what ``row`` counts, ``"line"`` in a text file (Markdown has no rows)."""
        self.path, self.row, self.problem, self.fix, self.unit = str(path), row, problem, fix, unit
        where = f"{path}, {unit} {row}" if row is not None else str(path)
        super().__init__(f"{where}: {problem}" + (f" — {fix}" if fix else ""))


class SettingsError(VerticalsError):
    """A ``VERTICALS_*`` environment variable with a value the suite cannot use."""


class ModelNotFoundError(VerticalsError):
    """A base model name or registry entry that does not resolve to local weights. ``name``: the
    name that resolved to nothing, when that was the trouble (None for a directory without a
    usable model), so an app can say what to train without parsing the message."""

    def __init__(self, message: str, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


class RegistryError(VerticalsError):
    """A registry operation that cannot be done (unknown version, nothing to roll back to)."""


class VectorIndexError(VerticalsError):
    """A vector index that is missing, corrupt or used with the wrong shapes."""


class LockBusyError(VerticalsError):
    """Another process holds a lock taken with ``file_lock(path, wait=False)``; ``holder`` is
    its pid as it wrote it ("" when unknown). Callers re-raise it with what to do."""

    def __init__(self, path: str | Path, holder: str) -> None:
        self.path, self.holder = Path(path), holder
        super().__init__(f"{path} is locked by another process (pid {holder or 'unknown'})")


def a_kind(kind: object) -> str:
    """A model kind with its article, for messages: ``"a classifier"``, ``"an encoder"``."""
    text = str(kind)
    return f"{'an' if text[:1].lower() in 'aeiou' else 'a'} {text}"


def first_few(names: list, total: int | None = None, shown: int = 3) -> str:
    """Names for a one-line message: ``["a", "b", "c", "d", "e"] -> "a, b, c, and 2 more"``; all of
    them when ``shown`` or fewer. ``total``: how many there are, when ``names`` holds only the
    first few."""
    total = len(names) if total is None else total
    more = f", and {total - shown} more" if total > shown else ""
    return ", ".join(str(n) for n in names[:shown]) + more
