"""Chunked, resumable batch scoring: local (pandas) or on Ray Data, same chunk function.

Users are cut into chunks in sorted order. Each finished chunk becomes a Parquet part in a
work folder beside the output (``.<out>.work/part-00003.parquet``, written atomically) next
to a manifest naming the job. A rerun of the same job skips the parts already there; the
final file is assembled from the parts in chunk order and written atomically, so it is
byte-identical to an uninterrupted run and never appears half-written. One job writes an
output at a time: a second is refused while the first holds ``.<out>.lock`` (an OS lock,
released when its process dies; the file goes when the job ends).

On Ray the workers send each part's bytes back and the driver writes it, so workers on other
machines need no shared output disk (they still read the input files and models at the
driver's paths).
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from shared import atomic_write_bytes, atomic_write_text
from shared.errors import LockBusyError, VerticalsError
from shared.progress import bars_shown
from shared.storage import file_lock

log = logging.getLogger(__name__)
COLUMNS = ["user_id", "item_id", "score", "rank"]
# --explain's columns, after COLUMNS: logit(score) = baseline + text_interest + other_features
EXPLAINED = ["baseline", "text_interest", "other_features", "because"]
DIGITS = 6  # a score's decimals in the output: P(take) to 1e-6
ENGINES = ("local", "ray")
ChunkFn = Callable[[list[str]], pd.DataFrame]


class InjectedFailure(RuntimeError):
    """Raised by ``fail_after`` to simulate a crash mid-run (tests and drills)."""


@dataclass(frozen=True)
class BatchPlan:
    """What a batch job will do: ``key`` names its inputs, ``chunks`` hold user ids."""

    out: Path
    key: str
    chunks: list[list[str]]

    @property
    def work(self) -> Path:
        return work_folder(self.out)

    @property
    def lock(self) -> Path:
        """Held while a job writes ``out`` (:func:`shared.storage.file_lock`), then removed."""
        return self.out.parent / f".{self.out.name}.lock"

    def part(self, index: int) -> Path:
        return self.work / f"part-{index:05d}.parquet"


@dataclass
class BatchResult:
    out: Path
    rows: int
    chunks: int
    skipped: int
    cold_start: int = 0  # users with no history (scored without text interest)
    cold_start_ids: list[str] = field(default_factory=list)  # those users, sorted
    rows_by_user: dict[str, int] = field(default_factory=dict)  # users with no row are absent
    short_ids: list[str] = field(default_factory=list)  # with --top-k: users given fewer than k rows


def plan_chunks(users: Sequence[str], chunk_size: int) -> list[list[str]]:
    """``plan_chunks(["b", "a", "c"], 2) -> [["a", "b"], ["c"]]``."""
    if chunk_size < 1:
        raise VerticalsError(f"--chunk-size must be at least 1, got {chunk_size}")
    ordered = sorted(set(users))
    return [ordered[i:i + chunk_size] for i in range(0, len(ordered), chunk_size)]


def work_folder(out: Path) -> Path:
    """Where a job writing ``out`` keeps its finished chunks until it assembles them."""
    return out.parent / f".{out.name}.work"


def check_output(out: Path, overwrite: bool = False) -> None:
    """Refuse an existing output unless asked to overwrite; refuse unknown suffixes."""
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise VerticalsError(f"{out}: output must end in .parquet or .csv")
    if out.is_dir():  # subtle: --overwrite scored the whole job, then could not put the file there
        raise VerticalsError(f"{out} is a folder: name a file in it for --out (e.g. {out / ('scores' + out.suffix)})")
    if out.exists() and not overwrite:
        if work_folder(out).exists():  # a run stopped before cleaning up, or one with --overwrite stopped
            raise VerticalsError(f"{out} already exists, and the parts of a run that did not finish are "
                                 f"beside it ({work_folder(out).name}) — pass --overwrite to finish that "
                                 "run (its parts are reused), or choose another --out")
        raise VerticalsError(f"{out} already exists — choose another --out or pass --overwrite")
    writable_folder(out.parent, "--out")


def writable_folder(folder: Path, option: str) -> None:
    """Make ``folder`` if missing; a one-line error naming ``option`` where it cannot be
    written (a file in the path, no permission), before any scoring starts."""
    try:
        if folder.exists() and not folder.is_dir():
            raise NotADirectoryError(0, "a file, not a folder")
        folder.mkdir(parents=True, exist_ok=True)
        # subtle: a file made and gone, not os.access: root may "write" into /proc or a read-only
        # mount, and the job's lock file failed there with a traceback
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        reason = err.strerror or str(err)
        raise VerticalsError(f"{option}: cannot write into {folder} ({reason.lower()}) — choose "
                             "a folder you can write to") from None


def frame_bytes(frame: pd.DataFrame, suffix: str) -> bytes:
    """Serialise deterministically: same frame in, same bytes out. A CSV writes every score with
    ``DIGITS`` decimals (not ``1e-06`` or ``0.19913``: a reader parsing fixed decimals tripped)."""
    if suffix == ".csv":
        return frame.to_csv(index=False, float_format=f"%.{DIGITS}f").encode("utf-8")
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _prepare_work(plan: BatchPlan) -> set[int]:
    """Make the work folder for this job; return the chunks already done.

    subtle: parts count only under a manifest naming this job. The manifest is written before
    any part, so parts without one are some other job's leftovers and are cleared.
    """
    manifest = plan.work / "manifest.json"
    key = json.loads(manifest.read_text()).get("key") if manifest.exists() else None
    if plan.work.exists() and key != plan.key:
        log.warning("%s holds parts of another job; starting over", plan.work)
        shutil.rmtree(plan.work)
    plan.work.mkdir(parents=True, exist_ok=True)
    atomic_write_text(manifest, json.dumps({"key": plan.key, "chunks": len(plan.chunks),
                                            "out": str(plan.out)}))
    return {i for i in range(len(plan.chunks)) if plan.part(i).exists()}


def score_part(users: list[str], score_chunk: ChunkFn) -> bytes:
    """Score one chunk of users into the bytes of its Parquet part: ``COLUMNS`` and any
    columns the chunk function adds after them (``--explain``'s), numbers to ``DIGITS``
    decimals (ranks from the full scores).

    subtle: a score is the same in any chunk to ~1e-8 (ONNX over other batch shapes), not to the
    bit: written with 17 digits, the file's bytes changed with --chunk-size and the engine."""
    frame = score_chunk(users)
    floats = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c])]
    return frame_bytes(frame.assign(**{c: frame[c].round(DIGITS) for c in floats}), ".parquet")


def run_batch(plan: BatchPlan, score_chunk: ChunkFn, engine: str = "local",
              overwrite: bool = False, fail_after: int | None = None) -> BatchResult:
    """Score every chunk not yet done, then assemble the output atomically."""
    if engine not in ENGINES:
        raise VerticalsError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    check_output(plan.out, overwrite)
    with ExitStack() as held:
        try:  # one job per output: two would share, and delete, one work folder
            held.enter_context(file_lock(plan.lock, wait=False, remove=True))
        except LockBusyError as busy:
            raise VerticalsError(f"another scoring job (pid {busy.holder or 'unknown'}) is writing "
                                 f"{plan.out} — wait for it to finish or choose another --out") from None
        check_output(plan.out, overwrite)  # it may have finished while this one started
        done = _prepare_work(plan)
        todo = [i for i in range(len(plan.chunks)) if i not in done]
        if done:
            log.info("resuming: %d of %d chunks already done", len(done), len(plan.chunks))
        if engine == "ray":
            _run_ray(plan, todo, score_chunk)
        else:
            _run_local(plan, todo, score_chunk, fail_after)
        by_user = _assemble(plan)
        shutil.rmtree(plan.work, ignore_errors=True)
    return BatchResult(plan.out, sum(by_user.values()), len(plan.chunks), len(done), rows_by_user=by_user)


def _run_local(plan: BatchPlan, todo: list[int], score_chunk: ChunkFn,
               fail_after: int | None) -> None:
    for count, index in enumerate(tqdm(todo, desc="scoring chunks", file=sys.stderr,
                                       disable=not todo or not bars_shown()), start=1):
        atomic_write_bytes(plan.part(index), score_part(plan.chunks[index], score_chunk))
        if fail_after is not None and count >= fail_after:
            raise InjectedFailure(f"injected failure after {count} chunk(s)")


def _assemble(plan: BatchPlan) -> dict[str, int]:
    """Write the output from the parts; its rows per user."""
    parts = [pd.read_parquet(plan.part(i)) for i in range(len(plan.chunks))]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
    atomic_write_bytes(plan.out, frame_bytes(frame, plan.out.suffix.lower()))
    return {str(u): int(n) for u, n in frame["user_id"].value_counts(sort=False).items()}


def _run_ray(plan: BatchPlan, todo: list[int], score_chunk: ChunkFn) -> None:
    """Run the same chunk function as Ray Data tasks on a local (or given) Ray cluster."""
    try:
        import ray
    except ImportError:
        raise VerticalsError("--engine ray needs Ray: pip install 'verticals[ray]'") from None
    if not todo:
        return
    if not ray.is_initialized():
        root = str(Path(__file__).resolve().parents[2])
        env = {k: v for k, v in os.environ.items() if k.startswith(("VERTICALS_", "HF_"))}
        env["PYTHONPATH"] = os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])
        on_sigterm = signal.getsignal(signal.SIGTERM)
        ray.init(address=os.environ.get("RAY_ADDRESS"), num_cpus=None if
                 os.environ.get("RAY_ADDRESS") else 2, include_dashboard=False,
                 log_to_driver=False, logging_level="warning", runtime_env={"env_vars": env})
        # subtle: ray.init makes SIGTERM exit(15) at once; the CLI's handler says to rerun
        if callable(on_sigterm) and threading.current_thread() is threading.main_thread():  # the CLI's
            signal.signal(signal.SIGTERM, on_sigterm)

    chunks = plan.chunks

    def task(row: dict) -> dict:
        return {"chunk": row["chunk"], "part": score_part(chunks[row["chunk"]], score_chunk)}

    _quiet_ray_data()
    dataset = ray.data.from_items([{"chunk": i} for i in todo]).map(task)
    finished: set[int] = set()
    rows = tqdm(dataset.iter_rows(), desc="scoring chunks", total=len(todo), file=sys.stderr, disable=not bars_shown())
    for row in rows:  # written as they arrive, so a crash keeps finished chunks
        atomic_write_bytes(plan.part(row["chunk"]), row["part"])
        finished.add(row["chunk"])
    missing = sorted(set(todo) - finished)
    if missing:
        raise VerticalsError(f"ray finished without chunks {missing}; rerun to resume")


def _quiet_ray_data() -> None:
    """Ray Data's INFO lines (its execution plan, and progress logged every 10 s when stderr is
    not a terminal: 17 lines for one chunk) stay in its log file; the console shows warnings and
    the same progress bar as the local engine.

    subtle: turning its progress off instead logs a warning that says so."""
    import ray.data  # noqa: F401  (configures the "ray.data" logger and its "console" handler)

    for handler in logging.getLogger("ray.data").handlers:
        if handler.get_name() == "console":
            handler.setLevel(logging.WARNING)
