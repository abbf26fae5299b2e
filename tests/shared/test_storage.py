"""Atomic writes keep the mode a plain write would have (temp files start private)."""

from __future__ import annotations

import os
import stat

import pytest

from shared.storage import atomic_dir, atomic_write_text


@pytest.mark.parametrize(("umask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)])
def test_atomic_outputs_follow_the_umask(tmp_path, umask, file_mode, dir_mode):
    old = os.umask(umask)
    try:
        written = atomic_write_text(tmp_path / "scores.csv", "user_id,item_id\n")
        with atomic_dir(tmp_path / "v1") as folder:
            (folder / "card.json").write_text("{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(written.stat().st_mode) == file_mode
    assert stat.S_IMODE((tmp_path / "v1").stat().st_mode) == dir_mode
    assert written.read_text() == "user_id,item_id\n"
