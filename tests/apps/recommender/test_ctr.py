from __future__ import annotations

import numpy as np

from apps.recommender.data import CtrExample
from apps.recommender.evaluation import ctr_features
from shared import Embedder


def test_ctr_features_see_the_taste_and_the_like_share():
    examples = [
        CtrExample(("Alien (1979)", "Aliens (1986)"), ("Notting Hill (1999)",), "Alien 3 (1992)", 1),
        CtrExample(("Alien (1979)",), ("Aliens (1986)", "Predator (1987)", "Heat (1995)"),
                   "Notting Hill (1999)", 0),
        CtrExample((), ("Heat (1995)",), "Heat (1995)", 0),
    ]
    x = ctr_features(examples, Embedder("minilm"))
    assert x.shape == (3, 8) and np.isfinite(x).all()
    assert x[0, 0] > x[0, 2]  # an Alien sequel is closer to the liked Alien films
    assert x[0, 5] == 2 / 3 and x[1, 5] == 1 / 4 and x[2, 5] == 0.0  # share of likes
    assert x[2, 0] == 0.0 and x[2, 3] > 0.99  # no likes; the target itself was disliked
