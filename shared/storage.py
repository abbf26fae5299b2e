"""Atomic writes: a crash never leaves a half-written file or directory that loads as whole."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    """The process umask, read without changing it where Linux tells it (``/proc``).

    subtle: the set-and-restore fallback is not thread-safe (two threads interleaving leave 022
    for good), so it runs under a lock; the finance poller saves models from worker threads.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def as_umask_allows(path: Path, directory: bool = False) -> None:
    """Give a temp file or dir the mode a plain ``open``/``mkdir`` would have.

    subtle: ``mkstemp``/``mkdtemp`` create 0600/0700 whatever the umask, so without this a
    batch job's output or a model version is unreadable by another account's downstream job.
    """
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temp file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        as_umask_allows(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def temp_dir(parent: Path, prefix: str) -> Path:
    """A new dot-named temp dir in ``parent`` with the mode a plain ``mkdir`` would give."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    as_umask_allows(path, directory=True)
    return path


@contextmanager
def atomic_dir(final_path: str | Path) -> Iterator[Path]:
    """Yield a temp dir beside ``final_path``; on success it replaces ``final_path`` whole.

    Temp dirs start with a dot, so listings that skip dot-names never see a half-written one.
    An existing ``final_path`` is swapped out only after the new one is complete.
    """
    final_path = Path(final_path)
    final_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_dir(final_path.parent, f".{final_path.name}.")
    try:
        yield tmp
        if final_path.exists():
            old = final_path.with_name(f".{final_path.name}.old-{os.getpid()}")
            os.replace(final_path, old)
            os.replace(tmp, final_path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final_path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
