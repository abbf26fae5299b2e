"""A deterministic, picklable chunk function for batch tests (no models, so Ray can ship it)."""

from __future__ import annotations

import zlib

import pandas as pd


def fake_scores(users: list[str]) -> pd.DataFrame:
    """Three items per user with scores derived from the ids (same input, same output)."""
    rows = []
    for user in users:
        for rank, item in enumerate(["i1", "i2", "i3"], start=1):
            score = (zlib.crc32(f"{user}:{item}".encode()) % 1000) / 1000
            rows.append({"user_id": user, "item_id": item, "score": score, "rank": rank})
    return pd.DataFrame(rows)
