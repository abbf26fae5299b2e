"""User profiles as text: what a reader engaged with, most recent first.

A profile is what both text models read on the user side, so it is built the same way at
training time (from the history *before* each interaction) and at scoring time (all history).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .tallrec import CtrExample

MAX_ITEMS = 6


def entry(title: str, description: str = "", words: int = 10) -> str:
    """One history entry: ``entry("Neon and Gin", "Hard-boiled detectives ...") ->
    'Neon and Gin: Hard-boiled detectives ...'`` (description cut to ``words`` words)."""
    short = " ".join(description.split()[:words])
    return f"{title}: {short}" if short else title


def profile_text(entries: Sequence[str], max_items: int = MAX_ITEMS) -> str:
    """``["A", "B"] -> "Recently enjoyed: A | B"``; an empty history gives an empty string."""
    if not entries:
        return ""
    return "Recently enjoyed: " + " | ".join(entries[:max_items])


def ctr_profile(liked: Sequence[str], disliked: Sequence[str]) -> str:
    """TALLRec-style profile: ``"Liked: A | B. Disliked: C"``."""
    liked_text = " | ".join(liked) or "nothing yet"
    disliked_text = " | ".join(disliked) or "nothing yet"
    return f"Liked: {liked_text}. Disliked: {disliked_text}"


def item_entries(items: pd.DataFrame) -> dict[str, str]:
    """``item_id -> history entry`` for every item in the catalogue."""
    return {i: entry(t, d) for i, t, d in
            zip(items["item_id"], items["title"], items["description"])}


def positives_by_user(interactions: pd.DataFrame) -> dict[str, list[str]]:
    """``user_id -> [item_id, ...]`` of label-1 interactions, most recent first."""
    taken = interactions[interactions["label"] == 1]
    taken = taken.sort_values(["user_id", "timestamp"], ascending=[True, False], kind="stable")
    return taken.groupby("user_id", sort=True)["item_id"].agg(list).to_dict()


def build_profiles(interactions: pd.DataFrame, items: pd.DataFrame,
                   max_items: int = MAX_ITEMS) -> dict[str, str]:
    """``user_id -> profile text`` from all of each user's positives (users with none omitted)."""
    entries = item_entries(items)
    return {user: profile_text([entries[i] for i in taken], max_items)
            for user, taken in positives_by_user(interactions).items()}


@dataclass(frozen=True)
class Example:
    """One training example: the profile *before* an interaction, the item, and its label."""

    user_id: str
    item_id: str
    profile: str
    label: int
    timestamp: int


def sequential_examples(interactions: pd.DataFrame, items: pd.DataFrame,
                        max_items: int = MAX_ITEMS) -> list[Example]:
    """Every interaction that has at least one earlier positive, with the profile at that time.

    subtle: the profile only uses positives strictly earlier than the interaction, so the
    models never read the answer in the question.
    """
    entries = item_entries(items)
    ordered = interactions.sort_values(["user_id", "timestamp"], kind="stable")
    examples = []
    for user, rows in ordered.groupby("user_id", sort=True):
        past: list[str] = []
        for item, label, ts in zip(rows["item_id"], rows["label"], rows["timestamp"]):
            if past:
                examples.append(Example(user, item, profile_text(past[::-1], max_items),
                                        int(label), int(ts)))
            if label == 1:
                past.append(entries[item])
    return examples


def sample_examples(examples: list[Example], limit: int | None, seed: int = 0) -> list[Example]:
    """At most ``limit`` examples, drawn reproducibly (all of them when ``limit`` is None)."""
    if limit is None or len(examples) <= limit:
        return examples
    keep = np.random.default_rng(seed).choice(len(examples), size=limit, replace=False)
    return [examples[i] for i in sorted(keep)]


def ctr_examples(interactions: pd.DataFrame, items: pd.DataFrame, history: int = 10,
                 limit: int | None = None, seed: int = 0) -> list[CtrExample]:
    """TALLRec-style questions built from interactions, the way TALLRec built its own: every
    interaction after a user's first ``history`` becomes "will they take this?", asked with the
    titles of the ``history`` interactions before it split into liked (1) and disliked (0).

    At most ``limit`` questions, drawn reproducibly. They teach the interest scorer the CTR
    format on a large catalogue before it is tuned on a small CTR set.
    """
    title = dict(zip(items["item_id"], items["title"]))
    ordered = interactions.sort_values(["user_id", "timestamp"], kind="stable")
    out = []
    for _, rows in ordered.groupby("user_id", sort=True):
        names = [title[i] for i in rows["item_id"]]
        labels = rows["label"].tolist()
        for k in range(history, len(names)):
            window = range(k - history, k)
            out.append(CtrExample(tuple(names[j] for j in window if labels[j] == 1),
                                  tuple(names[j] for j in window if labels[j] == 0),
                                  names[k], int(labels[k])))
    if limit is not None and len(out) > limit:
        keep = np.random.default_rng(seed).choice(len(out), size=limit, replace=False)
        out = [out[i] for i in sorted(keep)]
    return out
