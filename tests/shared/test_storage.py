"""Atomic writes keep the mode a plain write would have (temp files start private)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from shared.registry import Registry
from shared.storage import atomic_dir, atomic_write_text

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("umask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)])
def test_atomic_outputs_follow_the_umask(tmp_path, umask, file_mode, dir_mode):
    old = os.umask(umask)

    def private_weights(folder: Path) -> None:  # as safetensors writes them, whatever the umask
        (folder / "model.safetensors").write_bytes(b"x")
        os.chmod(folder / "model.safetensors", 0o600)

    try:
        written = atomic_write_text(tmp_path / "scores.csv", "user_id,item_id\n")
        with atomic_dir(tmp_path / "v1") as folder:
            (folder / "card.json").write_text("{}")
        saved = Registry(tmp_path / "models").path("m", Registry(tmp_path / "models").save("m", private_weights, {}))
    finally:
        os.umask(old)
    assert stat.S_IMODE(written.stat().st_mode) == file_mode
    assert stat.S_IMODE((tmp_path / "v1").stat().st_mode) == dir_mode
    assert stat.S_IMODE((saved / "model.safetensors").stat().st_mode) == file_mode  # another account's server reads it
    assert written.read_text() == "user_id,item_id\n"


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def _make(path, age_s: float = 0.0):
    path.mkdir()
    (path / "model.safetensors").write_bytes(b"x" * 10)
    stamp = time.time() - age_s
    os.utime(path, (stamp, stamp))
    return path


def test_a_write_sweeps_what_crashed_writes_left_and_keeps_live_ones(tmp_path):
    dead, me = _dead_pid(), os.getpid()
    crashed = _make(tmp_path / f".v1.{dead}-abcd1234")
    crashed_swap = _make(tmp_path / f".v1.old-{dead}")
    ancient = _make(tmp_path / f".v1.{me}-efgh5678", age_s=2 * 24 * 3600)  # pid reused since
    legacy_old = _make(tmp_path / ".v1.ijkl9012", age_s=2 * 3600)
    live = _make(tmp_path / f".v1.{me}-mnop3456")  # another thread of ours is saving now
    legacy_new = _make(tmp_path / ".v1.qrst7890")
    other = _make(tmp_path / f".v12.{dead}-uvwx1234")  # another path's temp: its own write sweeps it
    with atomic_dir(tmp_path / "v1") as folder:
        (folder / "card.json").write_text("{}")
    assert not any(p.exists() for p in (crashed, crashed_swap, ancient, legacy_old))
    assert all(p.exists() for p in (live, legacy_new, other))
    assert (tmp_path / "v1" / "card.json").read_text() == "{}"


def test_a_registry_save_sweeps_the_temp_copy_of_a_killed_save(tmp_path):
    crash = ("import os, sys; from shared.registry import Registry\n"
             "def write(out):\n    (out / 'weights.bin').write_bytes(b'x' * 1000); os._exit(9)\n"
             f"Registry({str(tmp_path)!r}).save('toy', write, {{'kind': 'classifier'}})")
    done = subprocess.run([sys.executable, "-c", crash], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 9, done.stderr
    left = [p.name for p in (tmp_path / "toy").iterdir()]
    assert len(left) == 1 and left[0].startswith(".toy."), left  # a hidden copy of the model
    registry = Registry(tmp_path)
    assert registry.versions("toy") == []  # never listed as a version
    registry.save("toy", lambda out: (out / "weights.bin").write_bytes(b"y"), {"kind": "classifier"})
    assert sorted(p.name for p in (tmp_path / "toy").iterdir()) == ["CURRENT", "HISTORY", "v1"]


def test_replacing_a_dir_never_leaves_its_path_missing(tmp_path):
    final = tmp_path / "index"
    with atomic_dir(final) as folder:
        (folder / "n").write_text("0")
    missing, stop = [], threading.Event()

    def read() -> None:
        while not stop.is_set():
            if not final.exists():
                missing.append(1)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(1, 200):
            with atomic_dir(final) as folder:
                (folder / "n").write_text(str(i))
    finally:
        stop.set()
        reader.join()
    assert (final / "n").read_text() == "199" and not missing
    assert [p.name for p in tmp_path.iterdir()] == ["index"]  # no temp or old copy left


def test_a_file_lock_excludes_other_holders_and_names_its_own(tmp_path):
    from shared.errors import LockBusyError
    from shared.storage import file_lock

    path = tmp_path / "x.lock"
    with file_lock(path):
        with pytest.raises(LockBusyError) as busy, file_lock(path, wait=False):
            pass
        assert busy.value.holder == str(os.getpid())
        got = threading.Event()

        def wait_for_it():
            with file_lock(path):
                got.set()

        waiter = threading.Thread(target=wait_for_it)
        waiter.start()
        assert not got.wait(0.3)  # it waits while the lock is held...
    waiter.join(timeout=10)
    assert got.is_set()  # ...and gets it once released
    with file_lock(path, wait=False):
        pass


def test_a_removed_lock_is_not_held_twice(tmp_path):
    """A waiter that locked the file just before its holder removed it starts over on a new
    file, so two holders never overlap."""
    from shared.storage import file_lock

    path = tmp_path / "out.lock"
    inside, overlaps = [], []

    def hold():
        with file_lock(path, remove=True):
            inside.append(1)
            overlaps.append(len(inside) > 1)
            time.sleep(0.01)
            inside.pop()

    workers = [threading.Thread(target=hold) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert len(overlaps) == 8 and not any(overlaps)
    assert not path.exists()
