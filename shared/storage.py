"""Atomic writes: a crash never leaves a half-written file or directory that loads as whole."""

from __future__ import annotations

import ctypes
import glob
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_UMASK_LOCK = threading.Lock()
STALE_AFTER_S = 24 * 3600  # a temp dir this old is swept even if its pid lives (pids get reused)
_RENAME_EXCHANGE = 2  # renameat2 flag (Linux >= 3.15)
_AT_FDCWD = -100


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
    """A new dot-named temp dir ``<prefix><pid>-<random>`` in ``parent`` with the mode a plain
    ``mkdir`` would give; the pid lets :func:`sweep_stale` tell a crashed save from a live one."""
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))
    as_umask_allows(path, directory=True)
    return path


def sweep_stale(parent: Path, prefix: str) -> list[Path]:
    """Remove temp dirs ``prefix...`` in ``parent`` that a crashed save left: their pid is dead,
    or they are over a day old (or, named before pids were, over an hour). Returns them.

    ``sweep_stale(Path("var/models/intents"), ".intents.")`` removes ``.intents.4242-x1y2z3ab``
    once process 4242 is gone.
    """
    pattern = re.compile(rf"^{re.escape(prefix)}(?:(\d+)-)?[a-z0-9_]{{8}}$|^{re.escape(prefix)}old-(\d+)$")
    swept = []
    for path in parent.glob(f"{glob.escape(prefix)}*"):
        match = pattern.match(path.name)
        if not match or not path.is_dir():
            continue
        pid = match.group(1) or match.group(2)
        try:
            age = time.time() - path.stat().st_mtime
        except FileNotFoundError:
            continue  # its owner finished meanwhile
        if age > STALE_AFTER_S or (pid is None and age > 3600) or (pid is not None and not _alive(int(pid))):
            shutil.rmtree(path, ignore_errors=True)
            swept.append(path)
    return swept


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


def fsync_tree(path: Path) -> None:
    """Flush every file under ``path`` and the folders holding them to disk, so a rename that
    publishes ``path`` never points at data still only in the page cache."""
    for folder, _, files in os.walk(path):
        for name in files:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(folder))


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a rename into it) to disk; a no-op where folders cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    return renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0


@contextmanager
def atomic_dir(final_path: str | Path) -> Iterator[Path]:
    """Yield a temp dir beside ``final_path``; on success it replaces ``final_path`` whole.

    Temp dirs start with a dot, so listings that skip dot-names never see a half-written one.
    An existing ``final_path`` is swapped out only after the new one is complete and on disk.
    Temp dirs that an earlier, crashed write left here are swept first.

    subtle: on Linux the swap is one ``RENAME_EXCHANGE``, so a reader always finds
    ``final_path``; elsewhere it is two renames, and for the instant between them ``final_path``
    is missing (a reader then fails as if it had not been written yet, and can simply retry).
    """
    final_path = Path(final_path)
    final_path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{final_path.name}."
    sweep_stale(final_path.parent, prefix)
    tmp = temp_dir(final_path.parent, prefix)
    try:
        yield tmp
        fsync_tree(tmp)
        if final_path.exists() and _exchange(tmp, final_path):
            shutil.rmtree(tmp, ignore_errors=True)  # it holds the old contents now
        elif final_path.exists():
            old = final_path.with_name(f"{prefix}old-{os.getpid()}")
            os.replace(final_path, old)
            os.replace(tmp, final_path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final_path)
        fsync_dir(final_path.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextmanager
def file_lock(path: str | Path, wait: bool = True, remove: bool = False) -> Iterator[Path]:
    """Hold an OS lock on ``path`` (created if missing) for the block; the holder's pid is
    written into it. ``wait=False`` raises :class:`~shared.errors.LockBusyError` at once
    instead of waiting for another holder.

    ``flock`` dies with its process, even on SIGKILL, so a crash never leaves a stale lock.
    The file stays unless ``remove``: locks named for a dated output would pile up. A removed
    file is safe because a process that locked it just before it went checks, once locked,
    that the path still names the file it holds, and starts over if not. Locks taken twice in
    one process also exclude each other (each call opens its own descriptor), so threads can
    share one too.
    """
    import fcntl

    from .errors import LockBusyError

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        handle = path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            if _names(path, handle):
                break
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            raise LockBusyError(path, holder) from None
        except BaseException:  # Ctrl-C while waiting: the descriptor must not leak
            handle.close()
            raise
        handle.close()  # its holder removed it while this one waited: lock the new file
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield path
    finally:
        if remove:
            path.unlink(missing_ok=True)  # while still held: see the docstring
        handle.close()  # closing the descriptor releases the lock


def _names(path: Path, handle) -> bool:
    """Whether ``path`` is still the file open as ``handle``."""
    try:
        named, held = os.stat(path), os.fstat(handle.fileno())
    except FileNotFoundError:
        return False
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)
