"""Chunked batch scoring: resumable after a crash, atomic output, same bytes as one clean run."""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import pandas as pd
import pytest

from apps.recommender.batch import BatchPlan, InjectedFailure, plan_chunks, run_batch
from shared.errors import VerticalsError

from .fake_chunks import fake_scores

USERS = [f"u{i:03d}" for i in range(23)]


def plan(out: Path, key: str = "job-1") -> BatchPlan:
    return BatchPlan(out, key, plan_chunks(USERS, 5))


def test_plan_chunks_sorted_and_sized() -> None:
    assert plan_chunks(["b", "a", "c"], 2) == [["a", "b"], ["c"]]
    with pytest.raises(VerticalsError, match="at least 1, got 0"):
        plan_chunks(["a"], 0)


def test_killed_run_resumes_to_identical_bytes(tmp_path: Path) -> None:
    clean = run_batch(plan(tmp_path / "clean.parquet"), fake_scores)
    assert clean.rows == 3 * len(USERS) and clean.chunks == 5

    crashed = plan(tmp_path / "out.parquet")
    with pytest.raises(InjectedFailure):
        run_batch(crashed, fake_scores, fail_after=2)
    assert not crashed.out.exists(), "a crashed run must not leave an output that looks whole"
    assert sorted(p.name for p in crashed.work.glob("part-*")) == ["part-00000.parquet",
                                                                   "part-00001.parquet"]
    calls: list[list[str]] = []

    def counting(users: list[str]) -> pd.DataFrame:
        calls.append(users)
        return fake_scores(users)

    resumed = run_batch(crashed, counting)
    assert resumed.skipped == 2 and len(calls) == 3, "finished chunks must not be recomputed"
    assert crashed.out.read_bytes() == clean.out.read_bytes()
    assert not crashed.work.exists()


def test_parts_of_another_job_are_not_reused(tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    with pytest.raises(InjectedFailure):
        run_batch(plan(out, key="old-inputs"), fake_scores, fail_after=1)
    assert run_batch(plan(out, key="new-inputs"), fake_scores).skipped == 0


def test_parts_without_a_manifest_are_not_reused(tmp_path: Path) -> None:
    """Leftovers of another job whose manifest went (a run that finished beside this one)."""
    out = tmp_path / "out.parquet"
    with pytest.raises(InjectedFailure):
        run_batch(plan(out, key="old-inputs"), fake_scores, fail_after=1)
    (plan(out).work / "manifest.json").unlink()
    assert run_batch(plan(out), fake_scores).skipped == 0


def test_a_second_job_on_one_output_is_refused(tmp_path: Path) -> None:
    from shared.storage import file_lock

    job = plan(tmp_path / "out.parquet")
    with file_lock(job.lock), pytest.raises(VerticalsError) as raised:
        run_batch(job, fake_scores)
    assert str(raised.value) == (f"another scoring job (pid {os.getpid()}) is writing {job.out} — wait "
                                 "for it to finish or choose another --out")
    assert not job.work.exists() and not job.out.exists()
    assert run_batch(job, fake_scores).rows == 3 * len(USERS)  # free again once released
    assert not job.lock.exists()  # nightly outputs are dated: their locks would pile up


def test_an_output_folder_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(VerticalsError) as raised:
        run_batch(plan(tmp_path / "file" / "out.parquet"), fake_scores)
    assert str(raised.value) == (f"--out: cannot write into {tmp_path / 'file'} (a file, not a folder) "
                                 "— choose a folder you can write to")
    # root passes os.access anywhere: /proc refused the job's lock file with a traceback
    with pytest.raises(VerticalsError, match="^--out: cannot write into /proc "):
        run_batch(plan(Path("/proc/out.parquet")), fake_scores)


def test_existing_output_refused_and_csv_supported(tmp_path: Path) -> None:
    out = tmp_path / "scores.csv"
    run_batch(plan(out), fake_scores)
    assert pd.read_csv(out).columns.tolist() == ["user_id", "item_id", "score", "rank"]
    scores = [line.split(",")[2] for line in out.read_text().splitlines()[1:]]
    assert all(re.fullmatch(r"\d\.\d{6}", s) for s in scores), scores[:5]  # never 1e-06
    with pytest.raises(VerticalsError, match="already exists — choose another --out"):
        run_batch(plan(out), fake_scores)
    assert run_batch(plan(out), fake_scores, overwrite=True).rows == 3 * len(USERS)
    with pytest.raises(InjectedFailure):  # a rescoring stopped part-way leaves its parts beside the output
        run_batch(plan(out), fake_scores, overwrite=True, fail_after=1)
    with pytest.raises(VerticalsError, match=r"already exists, and the parts of a run that did not finish are "
                                             r"beside it \(.scores.csv.work\) — pass --overwrite to finish"):
        run_batch(plan(out), fake_scores)
    assert run_batch(plan(out), fake_scores, overwrite=True).skipped == 1
    with pytest.raises(VerticalsError, match="must end in .parquet or .csv"):
        run_batch(plan(tmp_path / "scores.txt"), fake_scores)
    folder = tmp_path / "named.parquet"
    folder.mkdir()  # refused before any scoring, with --overwrite too (it scored all, then failed on the rename)
    with pytest.raises(VerticalsError) as raised:
        run_batch(plan(folder), fake_scores, overwrite=True)
    assert str(raised.value) == f"{folder} is a folder: name a file in it for --out (e.g. {folder / 'scores.parquet'})"
    assert not (tmp_path / ".named.parquet.work").exists()


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed")
def test_ray_engine_matches_local(tmp_path: Path, capfd) -> None:
    local = run_batch(plan(tmp_path / "local.parquet"), fake_scores)
    on_ray = plan(tmp_path / "ray.parquet")
    with pytest.raises(InjectedFailure):
        run_batch(on_ray, fake_scores, fail_after=1)
    capfd.readouterr()
    result = run_batch(on_ray, fake_scores, engine="ray")
    assert result.skipped == 1
    assert on_ray.out.read_bytes() == local.out.read_bytes()
    err = capfd.readouterr().err
    assert "scoring chunks" in err and "Execution plan" not in err  # Ray Data's INFO lines stay in its log
