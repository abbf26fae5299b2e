"""Pure parts against hand computations: features, profiles, ranker, ranking, metrics."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from apps.recommender.calibration import calibrated_order
from apps.recommender.evaluation import MIN_TEST_USERS, few_test_users_warning, ranking_metrics
from apps.recommender.features import (
    DAY,
    category_shares,
    fit_stats,
    log_scale,
    other_features,
    recency_weight,
    title_priors,
)
from apps.recommender.pipeline import COLD_START, cold_start_note, rank
from apps.recommender.profiles import profile_text, sequential_examples
from apps.recommender.ranker import (
    MIN_VAL_POSITIVES,
    Ranker,
    few_positives_warning,
    fit_ranker,
    text_warnings,
    weak_ranker_warning,
)
from apps.recommender.training import time_split

ITEMS = pd.DataFrame({"item_id": ["a", "b", "c"], "title": ["A", "B", "C"],
                      "description": ["", "", ""], "category": ["x", "x", "y"]})
INTERACTIONS = pd.DataFrame({"user_id": ["u", "u", "u", "v"], "item_id": ["a", "b", "c", "a"],
                             "label": [1, 0, 1, 1], "timestamp": [10, 20, 30, 40]})


def test_log_scale_recency_and_shares_by_hand() -> None:
    assert log_scale({"a": 0, "b": 1, "c": 3}) == {"a": 0.0, "b": 0.5, "c": 1.0}
    assert recency_weight(0, 30) == 1.0 and recency_weight(30 * DAY, 30) == pytest.approx(0.5)
    assert category_shares(["a", "a", "b", ""]) == {"a": 2 / 3, "b": 1 / 3}


def test_other_features_match_hand_values_and_cold_start_is_zero() -> None:
    stats = fit_stats(INTERACTIONS, ITEMS)
    x = other_features(stats, ["u", "new-user", "v"], ["a", "new-item", "c"])
    # a was taken twice (most popular), last at t=40 == now; u took one x and one y;
    # co-taken: u's recent takes are c and a; cos(a, a) = 1, cos(c, a) = 1 / sqrt(1 * 2)
    assert x[0].tolist() == pytest.approx([1.0, 1.0, 0.5, 1.0, (1 + 1 / math.sqrt(2)) / 2])
    assert x[1].tolist() == [0.0] * 5
    assert x[2, 4] == pytest.approx(1 / math.sqrt(2))  # v took a; u took a and c
    assert stats.user_activity["v"] == pytest.approx(math.log1p(1) / math.log1p(3))


def test_other_features_of_mixed_pairs_match_each_pair_alone() -> None:
    """Pairs are computed a user at a time; in any order, each row is its pair's own."""
    stats = fit_stats(INTERACTIONS, ITEMS)
    pairs = [(u, i) for u in ("v", "new-user", "u") for i in ("c", "new-item", "a", "b")]
    pairs = [pairs[j] for j in np.random.default_rng(0).permutation(len(pairs))]
    together = other_features(stats, [u for u, _ in pairs], [i for _, i in pairs])
    alone = np.vstack([other_features(stats, [u], [i]) for u, i in pairs])
    assert together.tolist() == alone.tolist() and together[:, 4].any()
    assert other_features(stats, [], []).shape == (0, 5)
    assert recency_weight(np.array([-5.0, 0.0, 30 * DAY]), 30).tolist() == [1.0, 1.0, 0.5]


def test_item_statistics_can_come_from_an_earlier_past_than_the_users() -> None:
    # v is described by its own rows (a at t=40); the items only by what happened before t=40
    past, own = INTERACTIONS[INTERACTIONS["timestamp"] < 40], INTERACTIONS[INTERACTIONS["user_id"] == "v"]
    stats = fit_stats(past, ITEMS, users=own)
    assert stats.popularity == {"a": 1.0, "c": 1.0} and stats.last_taken == {"a": 10, "c": 30}
    assert stats.now == 30 and stats.recent == {"v": [0]}
    assert stats.user_categories == {"v": {"x": 1.0}}
    assert stats.user_activity["v"] == pytest.approx(math.log1p(1) / math.log1p(3))
    assert fit_stats(past.iloc[:0], ITEMS, users=own).popularity == {}


def test_title_priors_shrink_the_like_share_toward_the_log_by_hand() -> None:
    # the log takes 3 of 4; a: 2 of 2, b: 0 of 1, c: 1 of 1; popularity log-scales the takes
    priors = title_priors(ITEMS, INTERACTIONS, weight=4.0)
    assert priors["A"] == pytest.approx(((2 + 3) / 6, 1.0))
    assert priors["B"] == pytest.approx((3 / 5, 0.0))
    assert priors["C"] == pytest.approx((4 / 5, math.log1p(1) / math.log1p(2)))
    merged = title_priors(ITEMS.assign(title=["A", " A", "C"]), INTERACTIONS, weight=4.0)
    assert merged["A"] == pytest.approx(((2 + 3) / 7, 1.0)) and set(merged) == {"A", "C"}


def test_profiles_only_read_the_past() -> None:
    examples = sequential_examples(INTERACTIONS, ITEMS)
    assert [(e.item_id, e.profile) for e in examples] == [
        ("b", "Recently enjoyed: A"), ("c", "Recently enjoyed: A")]
    assert profile_text([]) == "" and profile_text(["x", "y"], max_items=1) == "Recently enjoyed: x"


def test_time_split_keeps_each_users_late_period_for_validation() -> None:
    early, late = time_split(INTERACTIONS, 0.25)
    # u's last interaction validates; v has one interaction (the latest of all) and stays early
    assert early.index.tolist() == [0, 1, 3] and late.index.tolist() == [2]


def test_ranker_is_an_exact_additive_breakdown_and_round_trips(tmp_path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = (x[:, 0] + 0.3 * rng.normal(size=200) > 0).astype(int)
    ranker = fit_ranker(x, y, ["bi_score", "popularity", "recency"])
    assert ranker.coef[0] > abs(ranker.coef[1])
    text, other = ranker.split(x[:5])
    assert np.allclose(text + other + ranker.intercept, ranker.logits(x[:5]))
    average = np.array([ranker.mean])  # every part is 0 there: the intercept is the baseline
    assert np.allclose(ranker.split(average), 0.0) and ranker.logits(average)[0] == pytest.approx(
        ranker.intercept)
    ranker.save(tmp_path)
    assert np.allclose(Ranker.load(tmp_path).predict(x), ranker.predict(x))


def test_ranker_is_sklearns_logistic_regression_with_text_weights_at_least_0() -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 3))
    y = (x[:, 0] - 0.8 * x[:, 2] + 0.5 * rng.normal(size=400) > 0).astype(int)
    names = ["bi_score", "popularity", "recency"]
    reference = LogisticRegression(max_iter=1000).fit((x - x.mean(0)) / x.std(0), y)
    ranker = fit_ranker(x, y, names)  # no bound reached: the same fit
    assert np.allclose(ranker.coef, reference.coef_[0], atol=1e-3)
    assert ranker.intercept == pytest.approx(reference.intercept_[0], abs=1e-3)
    against = fit_ranker(x, 1 - y, names)  # the text score now predicts *not* taking
    assert against.coef[0] == 0.0 and against.coef[2] > 0.5  # recency is free to flip
    from shared.errors import VerticalsError

    with pytest.raises(VerticalsError, match="missing or infinite"):
        fit_ranker(np.where(np.eye(400, 3) > 0, np.nan, x), y, names)
    with pytest.raises(VerticalsError, match="no other label"):
        fit_ranker(x, 2 * y - 1, names)  # -1/1 labels


def test_rank_orders_per_user_with_stable_ties() -> None:
    frame = pd.DataFrame({"user_id": ["u", "u", "u", "v"], "item_id": ["a", "b", "c", "a"],
                          "score": [0.1, 0.9, 0.1, 0.5]})
    out = rank(frame, k=2)
    assert list(zip(out["user_id"], out["item_id"], out["rank"])) == [
        ("u", "b", 1), ("u", "a", 2), ("v", "a", 1)]


def test_a_list_takes_each_taste_in_its_share_and_weight_0_is_the_score_order() -> None:
    scores, cats = [0.5, 0.45, 0.4, 0.35, 0.2, 0.15], ["a", "a", "a", "a", "b", "b"]
    assert calibrated_order(scores, cats, {"a": 0.6, "b": 0.4}, 0.5, 2) == [0, 4]  # by hand: docstring
    assert calibrated_order(scores, cats, {"a": 0.6, "b": 0.4}, 0.0, 4) == [0, 1, 2, 3]
    # a category under MIN_SHARE of the takes is no taste to keep: one taste left, the score order
    assert calibrated_order(scores, cats, {"a": 0.9, "b": 0.1}, 0.5, 4) == [0, 1, 2, 3]
    # greedy lists are prefix-consistent: the first 3 of 5 are the list of 3
    assert calibrated_order(scores, cats, {"a": 0.5, "b": 0.5}, 0.5, 5)[:3] == \
        calibrated_order(scores, cats, {"a": 0.5, "b": 0.5}, 0.5, 3)
    # an item of another category changes no taste's share: it comes before a taste over its share
    assert calibrated_order([0.9, 0.8, 0.7, 0.2], ["a", "x", "a", "b"], {"a": 0.5, "b": 0.5}, 0.3, 4) == [0, 3, 1, 2]
    # and to an empty list as the best taste's item would: the top score keeps the first slot
    assert calibrated_order([0.95, 0.5, 0.45, 0.4], ["", "a", "b", "a"], {"a": 0.6, "b": 0.4}, 0.5, 4) == [0, 1, 2, 3]


def test_hit_rate_by_hand() -> None:
    """hr@k: the share of users with a relevant item in their top k (the core's recall@k)."""
    assert ranking_metrics([["a", "b"], ["c"]], [{"b"}, {"x"}], 2)["hr@2"] == 0.5


def test_a_training_list_is_the_next_takes_and_a_seeded_draw_of_the_rest_of_the_offer() -> None:
    from apps.recommender.training import training_list

    # per user: (bi-encoder, co-taken, popular) lists; "x" is taken next, "y" later
    found = (["a", "b", "x"], ["c", "a", "d"], ["y", "e", "f", "g"])
    drawn = training_list(found, {"x"}, {"x", "y"}, 3, np.random.default_rng(0))
    assert "x" in drawn and "y" not in drawn and len(drawn) == 4
    offer = ["a", "b", "x", "c", "d", "y", "e", "f", "g"]
    assert drawn == sorted(drawn, key=offer.index), "in the sources' order"
    assert drawn == training_list(found, {"x"}, {"x", "y"}, 3, np.random.default_rng(0))
    # every source is drawn from, not a fixed share of each
    seen = {item for seed in range(20)
            for item in training_list(found, {"x"}, {"x", "y"}, 3, np.random.default_rng(seed))}
    assert seen == set(offer) - {"y"}
    # a small offer is taken whole; a next take that was not offered is not made up
    assert training_list((["a"], [], ["b"]), {"z"}, {"z"}, 5, np.random.default_rng(0)) == ["a", "b"]


def test_held_out_users_keep_takers_on_both_sides_and_are_seeded() -> None:
    from apps.recommender.ranker import held_out_users

    users = np.array([u for u in "abcdefghij" for _ in range(3)])
    labels = np.array([1, 0, 0] * 5 + [0, 0, 0] * 5)  # a-e take something, f-j do not
    held = held_out_users(users, labels, 0.2, seed=0)
    assert len(held) == 2 and held == held_out_users(users, labels, 0.2, seed=0)
    assert len(set(held) & set("abcde")) == 1 and len(set(held) & set("fghij")) == 1
    one_taker = np.array([1, 0, 0] + [0, 0, 0] * 9)
    assert not set(held_out_users(users, one_taker, 0.2)) & {"a"}, "the only taker trains"


def test_held_out_metrics_score_a_ranker_fitted_without_those_users() -> None:
    from apps.recommender.ranker import held_out_metrics
    from shared import roc_auc

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2))
    y = (x[:, 0] + 0.5 * rng.normal(size=300) > 0.8).astype(int)
    held = np.arange(300) >= 240
    metrics = held_out_metrics(x, y, held, ["bi_score", "popularity"])
    fitted = fit_ranker(x[:240], y[:240], ["bi_score", "popularity"])
    assert metrics["val_auc"] == roc_auc(y[240:].tolist(), fitted.predict(x[240:]).tolist())
    assert metrics["val_rows"] == 60 and metrics["val_positives"] == int(y[240:].sum())
    assert metrics["val_auc_bi_score"] > 0.8 > metrics["val_auc_popularity"]
    nobody = held_out_metrics(x, y, np.zeros(300, dtype=bool), ["bi_score", "popularity"])
    assert nobody["val_auc"] is None and nobody["val_rows"] == 0


def test_answer_folds_split_each_answer_evenly() -> None:
    from apps.recommender.evaluation import answer_folds

    labels = [1, 0, 0, 0, 0, 0, 0, 0, 0, 1]  # two Yes among ten: a random split can lose one
    for seed in range(20):
        fold = answer_folds(labels, seed)
        for k in (0, 1):
            assert sorted(np.asarray(labels)[fold == k].tolist()) == [0, 0, 0, 0, 1]
    assert answer_folds([1, 0, 1, 0, 0]).tolist() == [0, 1, 1, 0, 0]


def test_candidate_search_asks_gpu_faiss_for_at_most_2048() -> None:
    from apps.recommender.scoring import MAX_SEARCH_K, search_candidates
    from shared import VectorIndex

    asked = []

    class Recording(VectorIndex):
        def search(self, queries: np.ndarray, k: int = 10) -> list:
            asked.append(k)
            return super().search(queries, k)

    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(3000, 8)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = [f"i{n}" for n in range(3000)]
    index = Recording(8)
    index.add(ids, vecs)
    user = vecs[:1]
    order = np.argsort(-(vecs @ user[0]), kind="stable")
    light = {ids[r] for r in order[:3]}
    heavy = {ids[r] for r in [*order[:2000], *order[2001:2200:2]]}  # 2100 seen: 5 + 2100 wanted
    found = search_candidates(index, np.vstack([user, user]), 5, [light, heavy])
    assert asked == [MAX_SEARCH_K] == [2048]
    assert [i for i, _ in found[0]] == [ids[r] for r in order[3:8]]
    assert [i for i, _ in found[1]] == [ids[r] for r in order[2000:2010:2]], "unseen, in order"
    swamped = {ids[r] for r in order[:2100]}
    assert search_candidates(index, user, 5, [swamped]) == [[]], "none unseen in the nearest 2048"


def test_cold_start_note_names_the_users_once() -> None:
    """Cold start is nothing taken yet: "no history" misled about a user shown items but taking none."""
    assert cold_start_note(["U9", "U7", "U9"]) == f"2 user(s) with no taken items (U7, U9): {COLD_START}"
    many = cold_start_note([f"U{i}" for i in range(8)], shown=3)
    assert many.startswith("8 user(s) with no taken items (U0, U1, U2, and 5 more): ")


def test_few_test_users_give_eval_a_one_line_warning() -> None:
    assert few_test_users_warning(MIN_TEST_USERS, MIN_TEST_USERS) == ""
    warning = few_test_users_warning(14, 15)
    assert warning == ("these figures rest on 14 test user(s) with 15 taken item(s) (under 20 users): one hit "
                       "moves hr@10 by 0.07, a rough guide only — add test interactions for a steadier measure")


def test_the_schedulers_first_line_says_when_it_next_runs() -> None:
    from datetime import UTC, datetime

    from apps.recommender.schedule import start_line

    evening, night = datetime(2026, 6, 17, 17, 0, tzinfo=UTC), datetime(2026, 6, 17, 1, 59, tzinfo=UTC)
    assert start_line(2, 0, "scores", evening) == ("recommender: nightly scoring at 02:00 UTC into scores; "
                                                   "next run 2026-06-18 02:00 UTC")
    assert start_line(2, 0, "scores", night).endswith("next run 2026-06-17 02:00 UTC")
    assert start_line(23, 5, "s", datetime(2026, 12, 31, 23, 6, tzinfo=UTC)).endswith("next run 2027-01-01 23:05 UTC")


def test_few_validation_positives_give_a_one_line_warning() -> None:
    assert few_positives_warning(MIN_VAL_POSITIVES, 10) == ""
    warning = few_positives_warning(3, 4)
    assert warning.startswith("val_auc rests on 3 taken item(s) of 4 held-out user(s)")
    assert "\n" not in warning and "--val-fraction" in warning


def test_text_models_that_count_for_nothing_are_said() -> None:
    """A shop's own data gave both text scores weight 0: a new item reached users by category alone."""
    assert text_warnings({"bi_score": 0.3, "cross_score": 0.0, "popularity": 1.0}, {"auc": 0.71}) == []
    nothing, weak = text_warnings({"bi_score": 0.0, "cross_score": 0.0, "popularity": -0.4}, {"auc": 0.52})
    assert nothing.startswith("the ranker gives the text scores no weight") and "category" in nothing
    # two AUCs on two sets (its own held-out pairs, the ranker's held-out users): each named
    assert weak.startswith("the cross-encoder ranks the pairs held out from its own training little better than "
                           "chance (AUC 0.52 on those; 0.5 is chance; val_auc_cross_score is its score's AUC on the "
                           "ranker's held-out users) — ")
    assert text_warnings({"popularity": 1.0}, {}) == []  # a ranker fitted without text features: nothing to say


def test_one_text_model_with_no_weight_is_noted_and_a_tuning_says_what_it_came_to() -> None:
    """An audit's cross-encoder caught 1 of 81 taken pairs and weighed 0: `train` said nothing, the
    dashboard showed a 0 bar on every item; the bi-encoder's tuning was kept on 43 pairs, unsaid."""
    from apps.recommender.ranker import unweighted_text_note
    from apps.recommender.scoring import tuning_note

    assert unweighted_text_note({"bi_score": 0.5, "cross_score": 0.0}) == (
        "the ranker gives the cross-encoder's score no weight: on the validation period it added nothing to the "
        "other features, so scoring never runs it (its part is always 0)")
    assert "bi-encoder's score no weight" in unweighted_text_note({"bi_score": 0.0, "cross_score": 0.2})
    assert unweighted_text_note({"bi_score": 0.0, "cross_score": 0.0}) == ""  # text_warnings says that one
    assert unweighted_text_note({"bi_score": 0.5, "cross_score": 0.2, "popularity": 0.0}) == ""
    card = {"kept": "tuned", "metrics": {"mrr_before": 0.2353, "mrr_after": 0.2461, "n_heldout_pairs": 43}}
    assert tuning_note(card) == "held-out MRR 0.235 -> 0.246 on 43 pairs: the tuned weights serve"
    # a loss: the card's mrr_after is the base's, which serves; mrr_tuned is what tuning came to
    lost = {"kept": "base",
            "metrics": {"mrr_before": 0.30, "mrr_after": 0.30, "mrr_tuned": 0.27, "n_heldout_pairs": 12}}
    assert tuning_note(lost) == ("held-out MRR 0.300 -> 0.270 on 12 pairs: tuning did not help, the base's weights "
                                 "serve; only 12 held-out pair(s), each query ranked among at most 12 passages: the "
                                 "recall and MRR are a rough guide")


def test_an_auc_at_or_below_chance_is_never_called_better_than_chance() -> None:
    """A tiny log's cross-encoder was said to rank "little better than chance (AUC 0.00 on those ...)"."""
    def cross_note(auc: float) -> str:
        return text_warnings({"bi_score": 0.3, "cross_score": 0.1}, {"auc": auc})[0]

    assert "own training worse than chance (AUC 0.00 on those;" in cross_note(0.0)
    assert "own training worse than chance (AUC 0.49 on those;" in cross_note(0.49)
    assert "own training no better than chance (AUC 0.50 on those;" in cross_note(0.499)
    assert "own training little better than chance (AUC 0.55 on those;" in cross_note(0.55)
    # the ranker's own val_auc: said only at or below chance
    assert weak_ranker_warning(0.32) == ("the ranker ranks its held-out users' next takes worse than chance "
                                         "(val_auc 0.32; 0.5 is chance) — add interactions and train again "
                                         "before serving it")
    assert "next takes no better than chance (val_auc 0.50;" in weak_ranker_warning(0.5)
    assert weak_ranker_warning(0.56) == "" and weak_ranker_warning(None) == ""

