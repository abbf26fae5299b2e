"""The recommender's batch scoring jobs: the chunk task that :func:`.batch.run_batch` runs (and
Ray ships to workers), the per-process caches it reads through, and the nightly and demo jobs'
"score unless current" with the stamp that says what a scores file was made with.

:meth:`.service.RecommenderService.score` plans a job and runs it with :class:`ChunkScorer`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from shared import Registry, file_digest, fingerprint

from .batch import COLUMNS, EXPLAINED
from .data import read_candidates, read_items
from .pipeline import rank
from .reasons import because

if TYPE_CHECKING:
    from .service import RecommenderService


def code_digest() -> str:
    """A digest of this package's source: the demo's scores are made again after a change of
    the code that ranks and explains them (the models are retrained only for a new recipe)."""
    return fingerprint([file_digest(p) for p in sorted(Path(__file__).parent.glob("*.py"))])


@dataclass(frozen=True)
class ChunkScorer:
    """Scores one chunk of users; plain fields only, so Ray can ship it to workers."""

    items: str
    interactions: str
    candidates: str | None
    top_k: int | None
    prefix: str
    registry: str
    models: str  # RecommenderService.models(): in the cache key, so a retrain is never stale
    inputs: str  # the files' content digest: part of the cache key, so edited files are reread
    pool: int | None = None  # candidates reranked per user for a top-k (None: the pipeline's default)
    explain: bool = False  # add EXPLAINED: the score's breakdown and the clause the dashboard shows

    def __call__(self, users: list[str]) -> pd.DataFrame:
        service = _service(self.items, self.interactions, self.prefix, self.registry, self.models,
                           self.inputs)
        pipe = service.pipeline()
        if self.top_k is not None:
            frame = pipe.top_k(users, self.top_k, self.pool)
        else:
            pairs = _candidate_pairs(str(self.candidates), self.items, self.inputs)
            pairs = pairs[pairs["user_id"].isin(set(users))]
            frame = rank(pipe.score_pairs(list(pairs["user_id"]), list(pairs["item_id"])))
        if not self.explain:
            return frame[COLUMNS]
        features = list(pipe.ranker.features)
        frame["because"] = [because(pipe, r.user_id, r.item_id, dict(zip(features, values)))
                            for r, values in zip(frame.itertuples(), frame[features].to_numpy().tolist())]
        frame = frame.rename(columns={"text_part": "text_interest", "other_part": "other_features"})
        # a user with no history is scored by the item's share of takers, not by the ranker: no parts
        frame.loc[frame["cold_start"], ["baseline", "text_interest", "other_features"]] = np.nan
        return frame[COLUMNS + EXPLAINED]


def job_key(task: ChunkScorer, chunk_size: int, out: Path) -> str:
    """What a job's parts are resumed by: its files, options, models and output path."""
    return fingerprint([task.inputs, task.top_k, chunk_size, task.models, str(out.resolve())]
                       + ([task.pool] if task.pool is not None else [])  # a job from before --pool resumes
                       + (["explain"] if task.explain else []))


# subtle: these caches outlive one job (the nightly scheduler is one long process), so their
# keys carry the files' content digest, not only their paths: tomorrow's job must read
# tomorrow's files. One service is kept: a process scores one job at a time, and an older
# job's loaded models would only hold memory.
@lru_cache(maxsize=1)
def _service(items: str, interactions: str, prefix: str, registry: str, models: str,
             inputs: str) -> RecommenderService:
    from .service import RecommenderService  # here, not at the top: the service imports this module

    return RecommenderService(items, interactions, prefix, Registry(registry))


@lru_cache(maxsize=2)
def _candidate_pairs(path: str, items_path: str, inputs: str) -> pd.DataFrame:
    return read_candidates(path, read_items(items_path))


def score_unless_current(service: RecommenderService, out: Path, top_k: int,
                         pool: int | None = None) -> tuple[int, bool]:
    """Score every user's top-k into ``out`` unless it holds them already: a stamp beside it
    (``.json``) names the models, files, k, pool and code the scores were made with, and any
    change scores again (a run stopped halfway resumes). Returns (rows, scored now).

    subtle: the nightly job skipped any file of the day, so a second `schedule --once` with
    another --top-k, or after a retrain, left the first run's scores in place."""
    from shared import atomic_write_text

    inputs = fingerprint([file_digest(service.items_path), file_digest(service.interactions_path)])
    stamp = out.with_suffix(".json")
    job = {"models": service.models(), "inputs": inputs, "top_k": top_k, "code": code_digest()} | \
        ({"pool": pool} if pool is not None else {})
    if out.exists() and stamp.exists() and json.loads(stamp.read_text()) == job:
        return len(pd.read_parquet(out, columns=["rank"])), False
    rows = service.score(out, top_k=top_k, pool=pool, overwrite=True).rows
    atomic_write_text(stamp, json.dumps(job))
    return rows, True
