"""A top-k list in the proportions of the user's tastes (calibrated recommendation, Steck 2018).

Ranked by score alone, a user who took 6 seafood and 4 Japanese recipes got 10 seafood ones:
each item's score counts the user's categories, so the larger taste takes every slot. The list
is built greedily instead, each slot given to the item that most raises

    (1 - weight) * (sum of the list's scores) - weight * KL(p || q~)

where ``p`` is the user's share of takes per category (``features.category_shares``) over
their tastes, the categories with at least ``MIN_SHARE`` of their takes, ``q`` the list's share
over its items of those categories (an item of another category changes neither), and
``q~ = (1 - 0.01) q + 0.01 p`` keeps the divergence finite. ``weight`` 0, or one taste, is ranking
by score. Greedy lists are prefix-consistent: the first 10 of a list of 50 are the list of 10.

subtle: the tastes only. Calibrated over every category taken (Steck's), a user's one-off
Japanese dish (9% of their takes) won slot 3 of 10 over their second taste, and the lists of an
audit's recipe site fell from 88% to 80% in the users' favourite categories.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

SMOOTHING = 0.01  # Steck's alpha: the user's own shares mixed into the list's
MIN_SHARE = 0.2  # a taste: a category with at least this share of the user's takes


def calibrated_order(scores: Sequence[float], categories: Sequence[str], shares: Mapping[str, float],
                     weight: float, k: int) -> list[int]:
    """Positions of the ``k`` items chosen, in list order. ``scores`` must be sorted best first
    (ties already broken), so that ``weight`` 0, or a user without ``shares``, gives ``range(k)``.

    Example: scores ``[0.5, 0.45, 0.4, 0.2]``, categories ``a a a b``, shares ``{a: 0.6, b: 0.4}``,
    weight 0.5, k 2 -> ``[0, 3]``: the second slot goes to ``b``, which the list lacked."""
    k = min(k, len(scores))
    names = sorted(c for c, share in shares.items() if share >= MIN_SHARE)
    if weight <= 0 or len(names) < 2:
        return list(range(k))
    p = np.array([shares[c] for c in names])
    p /= p.sum()
    column = {c: j for j, c in enumerate(names)}
    # an item of another category changes no taste's share (q is over the tastes' items only)
    onehot = np.zeros((len(scores), len(names)))
    for i, c in enumerate(categories):
        if c in column:
            onehot[i, column[c]] = 1.0
    value = np.asarray(scores, dtype=float)
    chosen, counts, total, left = [], np.zeros(len(names)), 0.0, np.ones(len(scores), dtype=bool)
    taste = onehot.any(axis=1)
    for _ in range(k):
        kl = _divergence(p, counts + onehot)  # each candidate's list, one row per candidate
        # an item of no taste leaves the list's divergence as it is; to an empty list, as the
        # best a taste's item would make it (subtle: at log 100 it had lost the first slot to
        # any taste's item, whatever its score)
        fresh = kl[taste & left]
        stays = _divergence(p, counts[None, :])[0] if counts.any() else (fresh.min() if fresh.size else 0.0)
        kl = np.where(taste, kl, stays)
        gain = (1 - weight) * (total + value) - weight * kl
        gain[~left] = -np.inf
        best = int(np.argmax(gain))  # the first of equals: the better ranked
        chosen.append(best)
        left[best] = False
        counts += onehot[best]
        total += value[best]
    return chosen


def _divergence(p: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """KL(p || q~) for each row of ``counts`` (items per taste), ``q~`` smoothed toward ``p``."""
    q = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    q = (1 - SMOOTHING) * q + SMOOTHING * p
    return np.sum(np.where(p > 0, p * np.log(p / q), 0.0), axis=1)
