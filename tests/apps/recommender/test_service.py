"""The trained recommender end to end: recommend, cold start, new items, batch, eval, CLI."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from apps.recommender import reasons
from apps.recommender.batch import InjectedFailure
from apps.recommender.cli import app
from apps.recommender.features import FEATURE_NAMES
from apps.recommender.pipeline import COLD_START, POPULARITY_FALLBACK, rank
from apps.recommender.service import RecommenderService
from shared.errors import DataError, RegistryError, VerticalsError


def warm_user(service: RecommenderService) -> str:
    return sorted(service.pipeline().taken)[0]


def test_cards_pin_the_text_models(service: RecommenderService) -> None:
    ranker, bi, cross = service.cards()
    assert ranker["kind"] == "ranker" and bi["kind"] == "biencoder"
    assert cross["kind"] == "cross_encoder"
    assert ranker["params"]["biencoder"] == f"rec-biencoder@{bi['version']}"
    assert 0.0 <= ranker["metrics"]["val_auc"] <= 1.0


def test_an_unknown_pinned_version_is_one_line_naming_the_versions(
        service: RecommenderService) -> None:
    from apps.recommender.scoring import TextScorer

    ranker_versions = service.registry.versions("rec-ranker")
    with pytest.raises(RegistryError, match=r"^model 'rec-interest' has no version 'v9' \(versions: v1"):
        service.fit_ranker("rec-biencoder@v1", "rec-interest@v9")
    assert service.registry.versions("rec-ranker") == ranker_versions, "nothing registered"
    with pytest.raises(RegistryError, match=r"^model 'rec-biencoder' has no version 'v9'") as error:
        TextScorer("rec-biencoder@v9").embed(["a book"])
    assert "\n" not in str(error.value)


def test_training_exports_both_text_models_checked_on_what_they_serve(
        service: RecommenderService) -> None:
    """ONNX forms exist, were checked on real (profile, item) pairs, and are what serving runs;
    the cross-encoder keeps the layers it was asked to keep and reads each profile once (its two
    one-way stages)."""
    import json

    from apps.recommender.scoring import TextScorer
    from shared import get_registry

    _, bi, cross = service.cards()
    registry = get_registry()
    bi_report = json.loads((registry.path("rec-biencoder") / "export" / "report.json").read_text())
    cross_report = json.loads((registry.path("rec-interest") / "export" / "report.json").read_text())
    assert bi_report["kind"] == "embedder" and not bi_report["check_pairs"]
    assert cross_report["kind"] == "one_way" and cross["params"]["pair_attention"] == "one-way"
    assert cross_report["check_pairs"] and bi_report["check_texts"] == 2 * cross_report["check_texts"] > 0
    assert bi_report["onnx_agreement"] == cross_report["onnx_agreement"] == 1.0
    scorer = TextScorer(str(registry.path("rec-biencoder")), str(registry.path("rec-interest")))
    scorer.warm_up()
    assert scorer._classifier.backend_name == "onnx-one-way"
    assert scorer._embedder.backend_name == "model.onnx", "the bi-encoder serves its exported form"
    config = json.loads((registry.path("rec-interest") / "config.json").read_text())
    assert config["num_hidden_layers"] == cross["params"]["layers"] == 2


def test_a_train_killed_before_its_ranker_leaves_no_new_text_model_serving(
        tiny: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bi-encoder's new version is kept but not promoted until the ranker pinning it is
    saved: a Ctrl-C during the cross-encoder's training leaves nothing new serving by name."""
    from apps.recommender import scoring
    from apps.recommender.scoring import TextConfig
    from apps.recommender.training import TrainConfig
    from shared.settings import get_settings

    monkeypatch.setenv("VERTICALS_HOME", str(tmp_path))
    get_settings.cache_clear()

    def interrupted(*args: object, **kwargs: object) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(scoring, "train_cross_encoder", interrupted)
    service = RecommenderService(tiny["items"], tiny["interactions"])
    config = TrainConfig(val_fraction=0.25, text=TextConfig(bi_max_length=32, max_pairs=64, batch_size=16))
    try:
        with pytest.raises(KeyboardInterrupt):
            service.train(config)
        assert service.registry.versions("rec-biencoder") == ["v1"]
        assert service.registry.current("rec-biencoder") is None
    finally:
        get_settings.cache_clear()


def test_text_models_whose_ranker_failed_are_discarded(service: RecommenderService,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Trained but pinned by no ranker, they would never serve: a failed ranker fit takes them."""
    from apps.recommender import service as module

    names = service.names()
    made = {}

    def trained(examples, negatives, text, pair, config):  # no minutes of training: copies of v1
        import shutil

        for name in pair:
            made[name] = service.registry.save(
                name, lambda out, n=name: shutil.copytree(service.registry.path(n, "v1"), out, dirs_exist_ok=True),
                service.registry.card(name, "v1"), promote=False)
        return tuple(f"{n}@{made[n]}" for n in pair)

    def failed(*args, **kwargs):
        raise VerticalsError("too few positives")

    before = {n: service.registry.versions(n) for n in (names["biencoder"], names["interest"])}
    monkeypatch.setattr(module, "train_text_models", trained)
    monkeypatch.setattr(RecommenderService, "fit_ranker", failed)
    with pytest.raises(VerticalsError, match="too few positives"):
        service.train()
    assert made and {n: service.registry.versions(n) for n in before} == before


def test_too_many_cross_layers_is_refused_before_training(tiny: dict[str, Path]) -> None:
    from apps.recommender.scoring import TextConfig
    from apps.recommender.training import TrainConfig

    service = RecommenderService(tiny["items"], tiny["interactions"], prefix="deep")
    with pytest.raises(VerticalsError, match="^--cross-layers 7: the base 'minilm' has only 6 layers"):
        service.train(TrainConfig(text=TextConfig(cross_layers=7)))


def test_recommend_ranks_unseen_items_with_a_breakdown(service: RecommenderService) -> None:
    user = warm_user(service)
    recs, note = service.recommend(user, 5)
    assert note == "" and len(recs) == 5
    seen = set(service.history(user)["item_id"])
    assert not seen & {r.item_id for r in recs}
    scores = [r.score for r in recs]
    assert all(0 <= s <= 1 for s in scores)
    if len(tastes_of(service.pipeline(), user)) < 2:  # two tastes are kept in their shares, not by score
        assert scores == sorted(scores, reverse=True)
    for r in recs:  # the breakdown adds up: baseline + text + other = logit(score)
        logit = np.log(r.score / (1 - r.score))
        assert r.baseline + r.text_part + r.other_part == pytest.approx(logit, abs=1e-5)
        assert r.baseline + sum(r.parts.values()) == pytest.approx(logit, abs=1e-5)
        assert r.text_part > 0 or not r.because.startswith("you liked"), r
    assert {r.baseline for r in recs} == {service.pipeline().ranker.intercept}


def tastes_of(pipe, user: str) -> list[str]:
    from apps.recommender.calibration import MIN_SHARE

    return [c for c, share in pipe.stats.user_categories.get(user, {}).items() if share >= MIN_SHARE]


def test_a_two_taste_users_list_keeps_their_shares_closer_than_the_score_order(service: RecommenderService) -> None:
    """An audit's user who took 6 seafood and 4 Japanese recipes got 10 seafood ones."""
    from apps.recommender.calibration import _divergence

    pipe = service.pipeline()
    user = next(u for u in sorted(pipe.taken) if len(tastes_of(pipe, u)) >= 2)
    tastes = sorted(tastes_of(pipe, user))
    shares = np.array([pipe.stats.user_categories[user][c] for c in tastes])

    def divergence(frame: pd.DataFrame) -> float:
        cats = [pipe.stats.item_category[i] for i in frame["item_id"]]
        return float(_divergence(shares / shares.sum(), np.array([[cats.count(c) for c in tastes]]))[0])

    balanced = pipe.top_k([user], 5)
    pipe.balance = 0.0
    try:
        by_score = pipe.top_k([user], 5)
    finally:
        pipe.balance = 0.5
    assert divergence(balanced) < divergence(by_score)
    assert list(balanced["rank"]) == [1, 2, 3, 4, 5]


def test_top_k_embeds_each_profile_once_with_the_same_scores(service: RecommenderService) -> None:
    """The profiles embedded for the candidates serve the text scores too; nothing changes."""
    from apps.recommender.pipeline import rank

    pipe = service.pipeline()
    users = sorted(pipe.taken)[:3] + ["someone-new"]
    lists = pipe.candidates(users, 20)  # the path before: profiles embedded again for scoring
    lists = [items if pipe.taken.get(u) else items[:5] for u, items in zip(users, lists)]  # new: top 5
    before = pipe.balanced(rank(pipe.score_pairs([u for u, items in zip(users, lists) for _ in items],
                                                 [i for items in lists for i in items])), 5)
    embedded: list[str] = []
    embed = pipe.scorer.embed
    pipe.scorer.embed = lambda texts: embedded.extend(texts) or embed(texts)
    try:
        after = pipe.top_k(users, 5)
    finally:
        del pipe.scorer.embed
    assert sorted(embedded) == sorted(pipe.profile(u) for u in users[:3])
    assert list(after["item_id"]) == list(before["item_id"])
    assert list(after["score"]) == list(before["score"])


def test_because_cites_history_only_when_text_lifted_the_score_and_it_is_close(
        service: RecommenderService, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pick is explained by history titles only when text interest raised its score and the
    titles resemble it; otherwise by the feature that did raise it."""
    import copy

    from apps.recommender.features import FEATURES
    from apps.recommender.ranker import Ranker

    pipe = copy.copy(service.pipeline())
    user = warm_user(service)
    unseen = [i for i in pipe.items["item_id"] if i not in pipe.seen[user]]
    close = next(i for i in unseen if reasons.similar_history(pipe, user, i))
    far = next(i for i in unseen if not reasons.similar_history(pipe, user, i))
    # every feature at 0.5 adds nothing; text counts most, then popularity, then co-taken
    pipe.ranker = Ranker(list(FEATURES), [0.5] * 7, [1.0] * 7, [1, 1, 0.5, 0, 0, 0, 0.4], 0.0)
    lifted = dict.fromkeys(FEATURES, 0.5) | {"bi_score": 0.9, "cross_score": 0.9, "popularity": 0.8}
    liked = reasons.similar_history(pipe, user, close)
    assert reasons.because(pipe, user, close, lifted) == "you liked " + " and ".join(f"“{t}”" for t in liked)
    assert reasons.because(pipe, user, far, lifted) == "it is popular", "nothing in the history resembles it"
    lowered = lifted | {"bi_score": 0.45, "cross_score": 0.45}
    assert reasons.because(pipe, user, close, lowered) == "it is popular", "text scored it down"
    # below an average candidate all told: a filler, whatever raised it (popularity +0.15, text -0.8)
    assert reasons.because(pipe, user, close, lifted | {"bi_score": 0.1, "cross_score": 0.1}) == reasons.BELOW_AVERAGE
    # a lift under MIN_LIFT is no reason: popularity's +0.05 says nothing
    assert reasons.because(pipe, user, far, lifted | {"popularity": 0.6}) == reasons.LIKE_YOURS
    titles = set(service.history(user)["title"])
    monkeypatch.setattr(reasons, "MIN_TAKEN_WITH", 1)  # the tiny data's users never took two items two by two
    with_ = reasons.because(pipe, user, close, lowered | {"popularity": 0.5, "co_taken": 0.9})
    assert with_.startswith("it is often taken with “") and with_[24:-1] in titles
    monkeypatch.undo()
    assert reasons.because(pipe, user, close, dict.fromkeys(FEATURES, 0.5)) == reasons.NOTHING_STOOD_OUT
    # an item nobody took (added after training): said so, to a new user too, never "among the most popular"
    pipe.stats = copy.copy(pipe.stats)
    pipe.stats.take_share = {i: s for i, s in pipe.stats.take_share.items() if i != close}
    assert reasons.because(pipe, user, close, dict.fromkeys(FEATURES, 0.5)) == "no one has taken it yet"
    assert reasons.because(pipe, "nobody-yet", close, {}) == "no one has taken it yet"
    # its 0 takers, weighed down, "lifted" it: not "it is a less-known pick"; its text still speaks
    pipe.ranker = Ranker(list(FEATURES), [0.5] * 7, [1.0] * 7, [1, 1, -0.5, 0, 0, 0, 0], 0.0)
    assert reasons.because(pipe, user, close, lowered | {"popularity": 0.0}) == "no one has taken it yet"
    assert reasons.because(pipe, user, close, lifted | {"popularity": 0.0}).startswith("you liked “")
    pipe.ranker = Ranker(list(FEATURES), [0.5] * 7, [1.0] * 7, [1, 1, 0.5, 0, 0, 0, 0.2], 0.0)
    taken = next(i for i in unseen if pipe.stats.take_share.get(i))
    assert reasons.because(pipe, "nobody-yet", taken, {}) == reasons.COLD_REASON
    # category overlap alone: the category, and the history item of it closest to the pick
    pipe.ranker = Ranker(list(FEATURES), [0.5] * 7, [1.0] * 7, [0, 0, 0, 0, 1, 0, 0], 0.0)
    category = pipe.stats.item_category[close]
    ours = [h for h in pipe.taken[user] if pipe.stats.item_category.get(h) == category]
    assert ours, "the close item shares a category with the history (the demo data's warm user)"
    why = reasons.because(pipe, user, close, dict.fromkeys(FEATURES, 0.5) | {"category_overlap": 0.9})
    lead = f"it is in {category}, like “"
    assert why.startswith(lead) and why[len(lead):-1] in {pipe.title[h] for h in ours}


def test_an_item_the_user_took_is_never_explained_by_itself(service: RecommenderService) -> None:
    """A candidates file may name an item its user took: "because: it is in Coffee, like “Ethiopian
    Yirgacheffe beans 250g”" cited the candidate itself (its own closest history item)."""
    import copy

    from apps.recommender.features import FEATURES
    from apps.recommender.ranker import Ranker

    pipe = copy.copy(service.pipeline())
    user = next(u for u in sorted(pipe.taken) if len(pipe.taken[u]) >= 2)
    for took in pipe.taken[user]:
        title = pipe.title[took]
        assert title not in reasons.similar_history(pipe, user, took, n=len(pipe.taken[user]))
        assert reasons.taken_with(pipe, user, took) != title
        assert f"“{title}”" not in reasons.same_category(pipe, user, took)
        for coef in ([1, 1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 1, 0, 0], [0, 0, 0, 0, 0, 0, 1]):  # text, category, co-taken
            pipe.ranker = Ranker(list(FEATURES), [0.5] * 7, [1.0] * 7, coef, 0.0)
            why = reasons.because(pipe, user, took, dict.fromkeys(FEATURES, 0.9))
            assert f"“{title}”" not in why, (took, coef, why)


def test_cold_start_user_is_scored_by_the_share_of_users_who_took_each_item(
        service: RecommenderService) -> None:
    """The most taken first, whatever k, each scored by its share of takers: scored by the ranker
    as its average user, a new user's list ran against popularity (the demo's weight is -0.30
    among users with history) and its first item changed with k."""
    recs, note = service.recommend("someone-new", 3)
    assert note == POPULARITY_FALLBACK and len(recs) == 3
    pipe = service.pipeline()
    assert [r.item_id for r in recs] == pipe.popular("someone-new", 3), "the 3 most taken, in order"
    assert [r.item_id for r in service.recommend("someone-new", 10)[0][:3]] == [r.item_id for r in recs]
    positives = service.interactions[service.interactions["label"] == 1]
    for r in recs:
        takers = positives.loc[positives["item_id"] == r.item_id, "user_id"].nunique()
        users = service.interactions["user_id"].nunique()
        assert r.score == pytest.approx(takers / users, abs=1e-6) and 0.0 < r.score < 1.0
        assert r.text_part == 0.0 and r.parts == {}  # no feature speaks for a user with no history
        logit = np.log(r.score / (1 - r.score))
        assert r.baseline + r.text_part + r.other_part == pytest.approx(logit, abs=1e-5)


def test_a_cold_users_every_pick_says_it_is_among_the_most_popular(service: RecommenderService) -> None:
    """How their pool is picked, whatever the ranker weighs popularity: with the demo's -0.29
    the popularity term sank every row and "because" was blank."""
    import copy
    from dataclasses import replace

    from apps.recommender.reasons import COLD_REASON

    recs, _ = service.recommend("someone-new", 5)
    assert len(recs) == 5 and all(r.because == COLD_REASON for r in recs)
    assert "most popular items you have not seen" in COLD_REASON
    pipe = copy.copy(service.pipeline())
    ranker = pipe.ranker
    coef = [-0.29 if f == "popularity" else c for f, c in zip(ranker.features, ranker.coef)]
    pipe.ranker = replace(ranker, coef=coef)
    top = pipe.top_k(["someone-new"], 5)
    features = list(pipe.ranker.features)
    assert (pipe.ranker.contributions(top[features].to_numpy())[:, features.index("popularity")] < 0).any()
    assert [reasons.because(pipe, "someone-new", r.item_id, {f: getattr(r, f) for f in features})
            for r in top.itertuples()] == [COLD_REASON] * 5
    # a user with history is still explained by what lifted the item
    assert COLD_REASON not in {r.because for r in service.recommend(warm_user(service), 5)[0]}


def test_has_history_is_quick_for_every_user_of_a_large_log(tmp_path: Path) -> None:
    """The dashboard asks it for every user on each rerun: 5,000 users on a 50,000-row log."""
    import time

    users = [f"U{i:05d}" for i in range(5000)]
    log = pd.DataFrame({"user_id": np.repeat(users, 10), "item_id": "B001",
                        "label": np.tile([0] * 9 + [1], 5000), "timestamp": np.arange(50_000)})
    log.loc[log["user_id"] == "U00007", "label"] = 0  # shown things, took none
    pd.DataFrame({"item_id": ["B001"], "title": ["T"], "description": ["D"],
                  "category": ["C"]}).to_csv(tmp_path / "items.csv", index=False)
    log.to_csv(tmp_path / "interactions.csv", index=False)
    service = RecommenderService(tmp_path / "items.csv", tmp_path / "interactions.csv")
    assert service.has_history("U00001") and not service.has_history("U00007")
    assert not service.has_history("someone-new")
    start = time.perf_counter()
    assert sum(service.has_history(u) for u in service.users()) == 4999
    assert time.perf_counter() - start < 1.0


def test_missing_models_say_the_demo_registers_under_its_own_prefix(
        rec_home: Path, tiny: dict[str, Path]) -> None:
    service = RecommenderService(tiny["items"], tiny["interactions"], prefix="mine")
    with pytest.raises(VerticalsError, match="'mine-ranker' is not in the registry") as err:
        service.ranker_card()
    assert "--prefix mine" in str(err.value) and "pass `--prefix demo`" in str(err.value)
    demo = RecommenderService(tiny["items"], tiny["interactions"], prefix="demo")
    with pytest.raises(VerticalsError, match="— run `verticals recommend demo`$"):
        demo.ranker_card()


def test_new_item_is_scored_from_its_text_without_retraining(
        rec_home: Path, tiny: dict[str, Path], tmp_path: Path) -> None:
    items = pd.read_csv(tiny["items"], dtype=str, keep_default_na=False)
    new = {"item_id": "NEW1", "title": "Starlight Over the Moors",
           "description": "A beginner's guide to telescopes and star charts.",
           "category": "Astronomy"}
    pd.concat([items, pd.DataFrame([new])]).to_csv(tmp_path / "items.csv", index=False)
    service = RecommenderService(tmp_path / "items.csv", tiny["interactions"])
    frame = service.pipeline().score_pairs([warm_user(service)], ["NEW1"])
    assert frame.loc[0, "popularity"] == 0.0 and frame.loc[0, "bi_score"] != 0.0
    assert 0.0 < frame.loc[0, "score"] < 1.0


def test_a_new_item_reaches_the_pool_and_the_top_k(rec_home: Path, tiny: dict[str, Path],
                                                   tmp_path: Path) -> None:
    """An item nobody has interacted with yet has no popularity or co-taken; it still gets a
    slot in each user's pool beside the n candidates, so a good match can rank."""
    items = pd.read_csv(tiny["items"], dtype=str, keep_default_na=False)
    log = pd.read_csv(tiny["interactions"], dtype=str)
    new = {"item_id": "NEW1", "title": "Starlight Over the Moors",
           "description": "A beginner's guide to telescopes and star charts.",
           "category": "Astronomy"}
    pd.concat([items[items["item_id"].isin(set(log["item_id"]))], pd.DataFrame([new])]).to_csv(
        tmp_path / "items.csv", index=False)
    pipe = RecommenderService(tmp_path / "items.csv", tiny["interactions"]).pipeline()
    assert pipe.new_items == ["NEW1"]
    users = sorted(pipe.taken)[:3]
    pools = pipe.candidates(users, 4)
    assert all("NEW1" in pool and len(pool) == 4 + (pool[4:] == ["NEW1"]) for pool in pools)
    scored = pipe.score_pairs(users, ["NEW1"] * len(users))
    top = pipe.top_k(users, 5, n_candidates=4)  # the whole pool is kept: NEW1 is in every list
    assert (top["item_id"] == "NEW1").sum() == len(users)
    assert np.allclose(top.set_index("user_id").query("item_id == 'NEW1'").loc[users, "score"],
                       scored["score"])
    assert pipe.candidates(["someone-new"], 4) == [pipe.popular("someone-new", 4)], "cold: none"


def test_the_pool_is_the_rankers_best_before_the_cross_encoder(service: RecommenderService) -> None:
    """Each item the sources offer gets the ranker's logit less the cross-encoder's term (the
    same numbers as scoring the pair, that term aside); the pool is the best of those."""
    from apps.recommender.pipeline import SOURCE_DEPTH

    pipe = service.pipeline()
    user = warm_user(service)
    vector = pipe.profile_vectors([user])[user]
    prior = pipe.prior_logits(user, vector)
    unseen = [i for i in pipe.ids if i not in pipe.seen[user]]
    scored = pipe.score_pairs([user] * len(unseen), unseen)
    ranker, cross = pipe.ranker, pipe.ranker.features.index("cross_score")
    lift = ranker.contributions(scored[ranker.features].to_numpy())[:, cross]
    assert np.allclose(prior[[pipe.row[i] for i in unseen]] + lift,
                       ranker.logits(scored[ranker.features].to_numpy()))
    assert pipe.by_prior(user, unseen, vector) == sorted(unseen, key=lambda i: (-prior[pipe.row[i]], i))
    offered = list(dict.fromkeys(sum(pipe.sources([user], SOURCE_DEPTH * 6)[0], [])))
    assert len(offered) > 6 and pipe.candidates([user], 6)[0][:6] == pipe.by_prior(user, offered, vector)[:6]


def test_candidates_mix_text_co_taken_and_popular_items(service: RecommenderService) -> None:
    from apps.recommender.features import co_taken

    pipe = service.pipeline()
    user = warm_user(service)
    offered = pipe.candidates([user], 9)[0]
    assert len(offered) == len(set(offered)) and not set(offered) & pipe.seen[user]
    assert len(offered[9:]) <= 1 and set(offered[9:]) <= set(pipe.new_items), "+10% new items"
    near = co_taken(pipe.stats, user)
    ids = list(pipe.items["item_id"])
    best = next(ids[r] for r in np.argsort(-near, kind="stable") if ids[r] not in pipe.seen[user])
    assert near[pipe.row[best]] > 0 and best in offered, "the most co-taken unseen item is offered"


def test_ranker_on_a_subset_of_features_still_serves(rec_home: Path, tiny: dict[str, Path]) -> None:
    """An ablation (or a ranker fitted before a feature existed) scores with its own columns."""
    from apps.recommender.scoring import TextConfig
    from apps.recommender.training import TrainConfig

    main = RecommenderService(tiny["items"], tiny["interactions"])
    card = main.ranker_card()
    subset = RecommenderService(tiny["items"], tiny["interactions"], prefix="ablation")
    config = TrainConfig(prefix="ablation", val_fraction=0.25, text=TextConfig(max_cross=200),
                         ranker_rows=200, features=("bi_score", "popularity"))
    subset.fit_ranker(card["params"]["biencoder"], card["params"]["cross_encoder"], config)
    recs, _ = subset.recommend(warm_user(main), 3)
    assert len(recs) == 3 and set(recs[0].features) == {"bi_score", "popularity"}
    with pytest.raises(VerticalsError, match="non-empty subset"):
        TrainConfig(features=("bi_score", "shoe_size"))
    with pytest.raises(VerticalsError, match="--ranker-rows must be at least 1, got 0"):
        TrainConfig(ranker_rows=0)


@pytest.mark.parametrize("option, said", [
    ("--max-pairs", "--max-pairs must be at least 4 (the fewest pairs a text model is tuned on), got 0"),
    ("--epochs", "--epochs must be at least 1, got 0"),
    ("--ranker-rows", "--ranker-rows must be at least 1, got 0"),
])
def test_train_options_below_their_minimum_are_refused_before_reading(option: str, said: str) -> None:
    """``--max-pairs 0`` reached the core: "pairs: has 0 pairs, need at least 4 — add (query,
    positive) rows", naming neither the option nor a file the user has."""
    result = CliRunner().invoke(app, ["train", "--items", "nope.csv", "--interactions", "nope.csv", option, "0"])
    assert isinstance(result.exception, VerticalsError) and str(result.exception) == said


def test_the_rankers_training_rows_see_only_their_past(service: RecommenderService) -> None:
    """Each group of users is ranked, for the ranker's training, with item statistics from
    before its validation period; its users' own histories are whole."""
    from apps.recommender.training import pipelines_as_of, time_split

    rows = service.interactions
    early, late = time_split(rows, 0.25)
    users = sorted(set(late["user_id"]) & set(early.loc[early["label"] == 1, "user_id"]))
    serving = service.pipeline()
    groups = pipelines_as_of(service.items, rows, early, late, users, serving.scorer, serving.ranker)
    assert len(groups) > 1 and sorted(u for group, _ in groups for u in group) == users
    for group, pipe in groups:
        start = late.loc[late["user_id"].isin(group), "timestamp"].min()
        before = rows[(rows["timestamp"] < start) & (rows["label"] == 1)]
        assert set(pipe.stats.popularity) == set(before["item_id"])
        assert max(pipe.stats.last_taken.values(), default=0) < start and pipe.stats.now < start
        assert pipe.interactions.equals(early[early["user_id"].isin(group)])
        assert pipe.item_vecs is groups[0][1].item_vecs and pipe.index is groups[0][1].index


def test_the_rankers_lists_are_labelled_by_each_users_next_takes(service: RecommenderService) -> None:
    """The ranker learns what each user takes next: a list's positives are among the user's
    first NEXT_TAKES takes after the split (by time), their later takes are in no list, each list
    draws ``candidates`` negatives, and the lists hold at most ``ranker_rows`` rows, the users
    drawn seeded when there are more."""
    from apps.recommender.scoring import TextConfig
    from apps.recommender.training import NEXT_TAKES, TrainConfig, time_split, validation_set

    early, late = time_split(service.interactions, 0.25)
    config = TrainConfig(val_fraction=0.25, text=TextConfig(max_cross=200), ranker_rows=50, candidates=8)
    scorer = service.pipeline().scorer
    x, y, users, info = validation_set(service.items, service.interactions, early, late, scorer, config)
    taken = late[late["label"] == 1]
    rows = list(zip(users, info["items"], strict=True))
    assert len(set(users)) == 50 // (8 + NEXT_TAKES) and len(rows) <= 50 and y.sum() and x.shape == (len(y), 7)
    for user in set(users):
        mine = list(taken[taken["user_id"] == user].sort_values("timestamp", kind="stable")["item_id"])
        first = set(mine[:NEXT_TAKES])
        later = set(mine[NEXT_TAKES:]) - first
        listed = [(item, label) for (u, item), label in zip(rows, y) if u == user]
        assert all(label == (item in first) for item, label in listed), user
        assert not {item for item, _ in listed} & later, f"{user}'s later takes are in no list"
        assert sum(1 for _, label in listed if not label) == 8, "candidates negatives per list"
    again = validation_set(service.items, service.interactions, early, late, scorer, config)
    assert np.array_equal(again[1], y) and again[3]["items"] == info["items"], "seeded"
    assert 0 < info["offer_recall"] <= 1


def test_interactions_without_timestamps_have_no_made_up_past_or_dates(
        service: RecommenderService, tiny: dict[str, Path], tmp_path: Path) -> None:
    """Row numbers order each user's rows, but say nothing across users (the file is sorted by
    user): the ranker's rows get one group with everyone's early history, the history no dates."""
    from apps.recommender.training import pipelines_as_of, time_split

    untimed = tmp_path / "untimed.csv"
    pd.read_csv(tiny["interactions"], dtype=str).drop(columns=["timestamp"]).to_csv(untimed, index=False)
    plain = RecommenderService(tiny["items"], untimed)
    early, late = time_split(plain.interactions, 0.25)
    users = sorted(set(late["user_id"]) & set(early.loc[early["label"] == 1, "user_id"]))
    serving = service.pipeline()
    [(group, pipe)] = pipelines_as_of(plain.items, plain.interactions, early, late, users,
                                      serving.scorer, serving.ranker)
    assert group == users
    assert set(pipe.stats.popularity) == set(early.loc[early["label"] == 1, "item_id"])
    history = plain.history(warm_user(service))
    assert len(history) and "when" not in history.columns  # no blank dates either
    assert set(service.history(warm_user(service))["when"]) != {""}


def test_unknown_item_is_refused(service: RecommenderService) -> None:
    with pytest.raises(VerticalsError, match="unknown item_id 'nope'"):
        service.pipeline().score_pairs([warm_user(service)], ["nope"])


def test_batch_candidates_resume_to_identical_file(service: RecommenderService,
                                                   tiny: dict[str, Path], tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING"):
        clean = service.score(tmp_path / "clean.parquet", candidates=tiny["candidates"],
                              chunk_size=1)
    notes = [r.getMessage() for r in caplog.records if "no taken items" in r.getMessage()]
    # U001 and U003 were only shown items of these shelves, NEWBIE is not in the log at all
    assert notes == ["3 user(s) with no taken items (NEWBIE, U001, U003): " + COLD_START], "one notice"
    out = tmp_path / "scores.parquet"
    with pytest.raises(InjectedFailure):
        service.score(out, candidates=tiny["candidates"], chunk_size=1, fail_after=2)
    assert not out.exists()
    resumed = service.score(out, candidates=tiny["candidates"], chunk_size=1)
    assert resumed.skipped == 2 and out.read_bytes() == clean.out.read_bytes()
    # in other chunks a score moved by ~1e-8, and with it the file's bytes: scores are to 1e-6
    whole = service.score(tmp_path / "whole.parquet", candidates=tiny["candidates"], chunk_size=1000)
    assert whole.out.read_bytes() == clean.out.read_bytes()
    frame = pd.read_parquet(out)
    expected = pd.read_csv(tiny["candidates"], dtype=str)
    assert len(frame) == len(expected) and frame.columns.tolist() == ["user_id", "item_id",
                                                                       "score", "rank"]
    newbie = frame[frame["user_id"] == "NEWBIE"]
    assert newbie["rank"].tolist() == [1], "an unknown user is scored cold"
    assert 0.0 < newbie["score"].iloc[0] < 1.0
    assert resumed.cold_start >= 1


def test_a_candidate_the_user_already_took_is_scored_and_said(service: RecommenderService, tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    user = warm_user(service)
    took = service.pipeline().taken[user][0]
    other = next(i for i in service.items["item_id"] if i not in service.pipeline().taken[user])
    candidates = tmp_path / "c.csv"
    candidates.write_text(f"user_id,item_id\n{user},{took}\n{user},{other}\n")
    with caplog.at_level("WARNING"):
        result = service.score(tmp_path / "o.csv", candidates=candidates)
    assert len(pd.read_csv(result.out)) == 2  # scored as given
    assert [r.getMessage() for r in caplog.records if "already took" in r.getMessage()] == [
        f"1 of 2 candidate pairs are items their user already took: scored and ranked like the rest "
        f"(drop them from {candidates} to leave them out)"]


def test_batch_refuses_empty_candidates_and_bad_arguments(service: RecommenderService,
                                                          tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("user_id,item_id\n")
    with pytest.raises(DataError, match="has no data rows"):
        service.score(tmp_path / "o.parquet", candidates=empty)
    with pytest.raises(VerticalsError, match="exactly one of --candidates FILE or --top-k"):
        service.score(tmp_path / "o.parquet")
    with pytest.raises(VerticalsError, match="--top-k must be greater than 0, got -3"):
        service.score(tmp_path / "o.parquet", top_k=-3)
    with pytest.raises(VerticalsError, match="--pool must come with --top-k and be at least it, got --pool 2 --top"):
        service.score(tmp_path / "o.parquet", top_k=3, pool=2)
    with pytest.raises(VerticalsError, match="got --pool 5 with --candidates"):
        service.score(tmp_path / "o.parquet", candidates=empty, pool=5)
    assert not (tmp_path / "o.parquet").exists()


def test_batch_refuses_interactions_where_nobody_took_anything(rec_home: Path, tiny: dict[str, Path],
                                                               tmp_path: Path) -> None:
    """Every item scored the same 0 share then, ranked in catalogue order, and it exited 0."""
    from apps.recommender.service import RecommenderService

    shown = pd.read_csv(tiny["interactions"]).assign(label=0)
    shown.to_csv(interactions := tmp_path / "shown.csv", index=False)
    with pytest.raises(VerticalsError, match="shown.csv: no row has label 1, so no user has taken anything"):
        RecommenderService(tiny["items"], interactions).score(tmp_path / "o.csv", top_k=3)
    assert not (tmp_path / "o.csv").exists()


def test_a_bad_interactions_file_is_named_before_a_candidates_job_leaves_anything(
        rec_home: Path, tiny: dict[str, Path], tmp_path: Path) -> None:
    from apps.recommender.service import RecommenderService

    interactions = tmp_path / "interactions.csv"
    interactions.write_text(tiny["interactions"].read_text() + "U001,NOPE,1,1737347407\n")
    candidates = tmp_path / "c.csv"
    candidates.write_text("user_id,item_id\nU001," + pd.read_csv(tiny["items"])["item_id"][0] + "\n")
    with pytest.raises(DataError, match="unknown item_id 'NOPE'"):
        RecommenderService(tiny["items"], interactions).score(tmp_path / "x.csv", candidates=candidates)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.csv", "interactions.csv"]  # no work folder, no lock


def test_explain_adds_the_breakdown_and_reason_the_dashboard_shows(service: RecommenderService,
                                                                   tmp_path: Path) -> None:
    plain = pd.read_parquet(service.score(tmp_path / "plain.parquet", top_k=3).out)
    explained = pd.read_csv(service.score(tmp_path / "why.csv", top_k=3, explain=True).out)
    assert list(explained.columns) == ["user_id", "item_id", "score", "rank", "baseline", "text_interest",
                                       "other_features", "because"]
    assert explained[["user_id", "item_id", "rank"]].equals(plain[["user_id", "item_id", "rank"]])
    ranked = explained[explained["baseline"].notna()]  # users with history; the others have no parts
    parts = ranked["baseline"] + ranked["text_interest"] + ranked["other_features"]
    assert len(ranked) and np.allclose(1 / (1 + np.exp(-parts)), ranked["score"], atol=1e-5)  # logit = their sum
    user = ranked["user_id"].iloc[0]
    recs, _ = service.recommend(user, 3)
    assert explained[explained["user_id"] == user]["because"].fillna("").tolist() == [r.because for r in recs]
    new_user = tmp_path / "new.csv"  # scored by the item's share of takers: no ranker parts
    new_user.write_text(f"user_id,item_id\nNOBODY,{plain['item_id'].iloc[0]}\n")
    [cold] = pd.read_csv(service.score(tmp_path / "cold.csv", candidates=new_user, explain=True).out).to_dict("records")
    assert np.isnan([cold["baseline"], cold["text_interest"], cold["other_features"]]).all()
    assert cold["because"] == "it is among the most popular items you have not seen"


def test_a_pool_as_big_as_the_catalogue_gives_the_whole_catalogues_top_k(
        service: RecommenderService, tmp_path: Path) -> None:
    pipe = service.pipeline()
    users = sorted(u for u in pipe.taken if pipe.taken[u])
    unseen = [(u, i) for u in users for i in pipe.items["item_id"] if i not in pipe.seen.get(u, set())]
    whole = pipe.balanced(rank(pipe.score_pairs([u for u, _ in unseen], [i for _, i in unseen])), 3)
    pooled = pd.read_parquet(service.score(tmp_path / "p.parquet", top_k=3, pool=len(pipe.items)).out)
    pooled = pooled[pooled["user_id"].isin(users)]
    assert sorted(zip(pooled["user_id"], pooled["item_id"])) == sorted(zip(whole["user_id"], whole["item_id"]))


def test_a_top_k_beyond_the_catalogue_says_users_got_fewer(service: RecommenderService, tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    k = len(service.items) + 5
    with caplog.at_level("WARNING"):
        result = service.score(tmp_path / "all.parquet", top_k=k)
    assert f"--top-k {k} is more than some users could get: {result.rows} rows for" in caplog.text


def test_users_given_fewer_than_top_k_are_named(rec_home: Path, tiny: dict[str, Path], tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    """A user already shown every item got no row, and the summary said only "155 rows for 32 users"."""
    log = pd.read_csv(tiny["interactions"], dtype=str)
    items = pd.read_csv(tiny["items"], dtype=str)["item_id"]
    seen_all = pd.DataFrame({"user_id": "ALLSEEN", "item_id": items, "label": ["1"] + ["0"] * (len(items) - 1),
                             "timestamp": log["timestamp"].iloc[0]})
    interactions = tmp_path / "seen_all.csv"
    pd.concat([log, seen_all]).to_csv(interactions, index=False)
    with caplog.at_level("WARNING"):
        result = CliRunner().invoke(app, ["score", "--items", str(tiny["items"]), "--interactions", str(interactions),
                                          "--top-k", "2", "--out", str(tmp_path / "s.csv"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["fewer_than_top_k_users"] == 1 and summary["fewer_than_top_k_first"] == ["ALLSEEN"]
    assert "ALLSEEN" not in set(pd.read_csv(tmp_path / "s.csv", dtype=str)["user_id"])
    assert f"--top-k 2 is more than some users could get: {summary['rows']} rows for " in caplog.text
    assert "; 1 user(s) got fewer (ALLSEEN: 0) — the catalogue holds" in caplog.text


def test_cli_score_top_k_and_existing_output(rec_home: Path, tiny: dict[str, Path],
                                             tmp_path: Path) -> None:
    out = tmp_path / "top.csv"
    args = ["score", "--items", str(tiny["items"]), "--interactions", str(tiny["interactions"]),
            "--top-k", "2", "--out", str(out), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert frame.groupby("user_id")["rank"].max().eq(2).all()
    assert frame.columns.tolist() == ["user_id", "item_id", "score", "rank"]
    # the file has no cold-start column: the run summary counts and names them
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    log = pd.read_csv(tiny["interactions"], dtype={"user_id": str})
    cold = sorted(set(log["user_id"]) - set(log.loc[log["label"] == 1, "user_id"]))
    assert len(cold) > 5, "the fixture has more cold users than the summary names"
    assert summary["cold_start_users"] == len(cold) and summary["cold_start_first"] == cold[:5]
    assert summary["fewer_than_top_k_users"] == 0 and summary["fewer_than_top_k_first"] == []
    again = CliRunner().invoke(app, args)
    assert isinstance(again.exception, VerticalsError) and "already exists" in str(again.exception)
    before = tiny["interactions"].read_bytes()
    onto_input = CliRunner().invoke(app, [*args[:-3], "--out", str(tiny["interactions"]), "--overwrite"])
    assert str(onto_input.exception) == f"{tiny['interactions']} is the --interactions file: choose another --out"
    assert tiny["interactions"].read_bytes() == before


def test_cli_eval_reports_model_and_baselines(rec_home: Path, tiny: dict[str, Path],
                                              tmp_path: Path) -> None:
    from apps.recommender.training import time_split

    service = RecommenderService(tiny["items"], tiny["interactions"])
    early, late = time_split(service.interactions, 0.25)
    stranger = late.iloc[:1].assign(user_id="nobody-before", label=1)  # no history in train: left out, said so
    # a user whose one test positive they took in train already: left out, and not called history-less
    retaking = early[early["label"] == 1].iloc[:1].assign(user_id="again", timestamp=late["timestamp"].max())
    early = pd.concat([early, retaking.assign(timestamp=early["timestamp"].min())])
    early.to_csv(tmp_path / "train.csv", index=False)
    pd.concat([late, stranger, retaking]).to_csv(tmp_path / "test.csv", index=False)
    result = CliRunner().invoke(app, ["eval", "--items", str(tiny["items"]), "--train",
                                      str(tmp_path / "train.csv"), "--test",
                                      str(tmp_path / "test.csv"), "--n-candidates", "10", "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    for system in ("model", "popularity", "minilm", "co_taken"):
        assert {"ndcg@10", "mrr", "hr@10", "auc"} <= set(metrics[system])
    left_out = metrics["users_without_history"]
    assert metrics["users"] > 0 and left_out >= 1 and "nobody-before" in metrics["users_without_history_first"]
    assert f"{left_out} test users with a positive have taken nothing in --train and are left out (" in result.stderr
    assert "again" not in metrics["users_without_history_first"]
    assert metrics["users_all_seen"] == 1 and metrics["users_all_seen_first"] == ["again"]
    assert "1 test users with a positive were shown or took each of its items in --train already and are left out " \
           "(again)" in result.stderr
    # a handful of test users: hr@10 moves by 1/users a hit, said in the result and on stderr; so is
    # that the models were not trained on --train (below), first, in the same "warning"
    assert f"; these figures rest on {metrics['users']} test user(s) with {metrics['positives']} taken item(s) " \
           "(under 20 users)" in metrics["warning"]
    assert metrics["warning"].startswith("the rec models were not trained on --items/--train")
    assert f"warning: {metrics['warning']}" in result.stderr
    few = CliRunner().invoke(app, ["eval", "--items", str(tiny["items"]), "--train", str(tmp_path / "train.csv"),
                                   "--test", str(tmp_path / "test.csv"), "--n-candidates", "5"])
    assert "--n-candidates must be at least 10" in str(few.exception)
    assert metrics["test_positives_seen_in_train"] == 1  # the retaking user's
    inside = CliRunner().invoke(app, ["eval", "--items", str(tiny["items"]), "--train", str(tmp_path / "train.csv"),
                                      "--test", str(tmp_path / "train.csv")])  # every test row is in --train
    assert "positive test rows pair a user with an item the training interactions already show" in \
        str(inside.exception)
    # the fixture's models were trained on every interaction, test rows included: said so
    assert metrics["models_trained_on_train"] is False and "not held out" in result.stderr


def test_help_names_each_option_once_and_what_it_means() -> None:
    def help_of(command: str) -> str:
        text = CliRunner().invoke(app, [command, "--help"], terminal_width=200).output
        return " ".join(text.replace("│", " ").split())

    evaluate = help_of("eval")
    assert "--n-candidates" in evaluate and "Candidates ranked per test user" in evaluate
    assert "--candidates " not in evaluate, "--candidates is score's CSV of pairs"
    assert "popularity, untuned MiniLM and co-taken baselines" in evaluate
    assert "Hour (UTC)" in help_of("schedule")
    assert "pip install 'verticals[ray]'" in help_of("score")  # subtle: rich read "[ray]" as markup
    # each option says what it does (these had no description)
    train = help_of("train")
    assert "Passes over its pairs in tuning each text model" in train and "Tokens the text models read" in train
    assert "The last share of each user's history (by time, else in file order; 0.05-0.5) held out from the" in train
    assert "Items kept per user in each run's file" in help_of("schedule")
    assert "Replace --out if it exists" in help_of("score")
    assert "Replace items.csv and interactions.csv if --out already holds them" in help_of("convert")


def test_nightly_job_is_scheduled_and_runs_once(rec_home: Path, tiny: dict[str, Path],
                                                tmp_path: Path) -> None:
    from apps.recommender.schedule import JOB_ID, build_scheduler, nightly_job

    scheduler = build_scheduler(tiny["items"], tiny["interactions"], tmp_path, 2, 30, 1, "rec", 6)
    job = scheduler.get_job(JOB_ID)
    assert job is not None and "hour='2'" in str(job.trigger) and tuple(job.args[-3:]) == (1, "rec", 6)
    message = nightly_job(str(tiny["items"]), str(tiny["interactions"]), str(tmp_path), 1, "rec")
    assert "rows" in message and "replaced" not in message
    assert "already written today" in nightly_job(str(tiny["items"]), str(tiny["interactions"]),
                                                  str(tmp_path), 1, "rec")
    # other options the same day score again: the day's file is the latest run's
    again = nightly_job(str(tiny["items"]), str(tiny["interactions"]), str(tmp_path), 2, "rec")
    assert "already written" not in again and again.endswith(
        " rows (replaced today's earlier file: the models, files or options changed)")
    [out] = tmp_path.glob("scores-*.parquet")
    assert pd.read_parquet(out)["rank"].max() == 2


def test_two_output_folders_keep_their_own_nightly_job_and_one_scheduler_each(
        rec_home: Path, tiny: dict[str, Path], tmp_path: Path) -> None:
    """One job store table shared by two schedulers: each ran the other's job."""
    from apps.recommender.schedule import job_table, start_scheduler
    from shared.storage import file_lock

    assert job_table(tmp_path / "a") != job_table(tmp_path / "b")
    assert job_table(tmp_path / "a") == job_table(tmp_path / "x" / ".." / "a")
    with file_lock(rec_home / "schedulers" / f"{job_table(tmp_path / 'a')}.lock"):  # a scheduler runs
        with pytest.raises(VerticalsError, match=rf"another scheduler \(pid {os.getpid()}\) already runs "
                                                 r"this job from this home .*: stop it with `kill \d+` first"):
            start_scheduler(tiny["items"], tiny["interactions"], tmp_path / "a", 2, 0, 1, "rec")


def test_schedule_refuses_what_would_fail_at_night_before_storing_a_job(
        tmp_path: Path, tiny: dict[str, Path], monkeypatch) -> None:
    monkeypatch.setenv("VERTICALS_HOME", str(tmp_path / "home"))  # no models here
    runner = CliRunner()
    base = ["schedule", "--out-dir", str(tmp_path / "out")]
    missing = runner.invoke(app, [*base, "--items", str(tmp_path / "nope.csv"),
                                  "--interactions", str(tiny["interactions"])])
    files = ["--items", str(tiny["items"]), "--interactions", str(tiny["interactions"])]
    zero = runner.invoke(app, [*base, *files, "--top-k", "0"])
    untrained = runner.invoke(app, [*base, *files])
    spark = runner.invoke(app, ["score", *files, "--out", str(tmp_path / "s.parquet"), "--top-k", "3",
                                "--engine", "spark"])  # a choice: refused before the missing models
    assert spark.exit_code == 2 and "Invalid value for '--engine'" in spark.output
    (tmp_path / "a-file").write_text("")
    not_a_folder = runner.invoke(app, ["schedule", "--out-dir", str(tmp_path / "a-file" / "out"),
                                       *files, "--once"])
    errors = [str(r.exception) for r in (missing, zero, untrained, not_a_folder)
              if isinstance(r.exception, VerticalsError)]  # the CLI prints each as one line
    assert len(errors) == 4 and "nope.csv: file not found" in errors[0]
    assert "--top-k must be greater than 0, got 0" in errors[1] and "no trained recommender" in errors[2]
    assert errors[3] == (f"--out-dir: cannot write into {tmp_path / 'a-file' / 'out'} (not a "
                         "directory) — choose a folder you can write to")
    # a file `score` refuses is refused now, in the same line, not at 02:00 inside the job
    semicolons = tmp_path / "items.csv"
    semicolons.write_text(tiny["items"].read_text().replace(",", ";"))
    bad = runner.invoke(app, [*base, "--items", str(semicolons), "--interactions", str(tiny["interactions"])])
    with pytest.raises(DataError) as scored:
        RecommenderService(semicolons, tiny["interactions"]).score(tmp_path / "s.csv", top_k=3)
    assert isinstance(bad.exception, DataError) and str(bad.exception) == str(scored.value)
    assert str(semicolons) in str(scored.value) and "\n" not in str(scored.value)
    unknown = tmp_path / "interactions.csv"
    unknown.write_text(tiny["interactions"].read_text() + "U001,NOPE,1,1737347407\n")
    late = runner.invoke(app, [*base, *files[:2], "--interactions", str(unknown)])
    assert "unknown item_id 'NOPE'" in str(late.exception)
    assert not (tmp_path / "home" / "verticals.db").exists()  # no job stored


def test_a_nightly_run_on_bad_input_fails_in_one_line_and_the_scheduler_goes_on(
        rec_home: Path, tiny: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from apps.recommender.schedule import nightly_job

    interactions = tmp_path / "interactions.csv"
    interactions.write_text(tiny["interactions"].read_text() + "U001,NOPE,1,1737347407\n")
    with caplog.at_level("ERROR"):
        outcome = nightly_job(str(tiny["items"]), str(interactions), str(tmp_path / "out"), 3, "rec")
    assert outcome.startswith("failed: ") and "unknown item_id 'NOPE'" in outcome
    assert [r.getMessage() for r in caplog.records] == [f"recommender nightly scoring {outcome}"]
    late = CliRunner().invoke(app, ["schedule", "--items", str(tiny["items"]), "--interactions", str(interactions),
                                    "--out-dir", str(tmp_path / "out"), "--hour", "25", "--once"])
    assert late.exit_code == 2 and "Invalid value for '--hour'" in late.output  # as `support schedule` says it


def test_nightly_job_reads_the_files_as_they_are_that_night(rec_home: Path, tiny: dict[str, Path],
                                                            tmp_path: Path) -> None:
    """The scheduler runs every night in one process: night 2 must see the day's interactions."""
    from apps.recommender.schedule import nightly_job

    interactions = tmp_path / "interactions.csv"
    shutil.copy(tiny["interactions"], interactions)

    def night(folder: str) -> pd.DataFrame:
        nightly_job(str(tiny["items"]), str(interactions), str(tmp_path / folder), 3, "rec")
        return pd.read_parquet(next((tmp_path / folder).glob("scores-*.parquet")))

    first = night("night1")
    user = first["user_id"].iloc[0]
    offered = first.loc[first["user_id"] == user, "item_id"].tolist()
    log = pd.read_csv(interactions, dtype=str)
    later = str(log["timestamp"].astype(int).max() + 1)
    taken = pd.DataFrame({"user_id": user, "item_id": offered, "label": "1", "timestamp": later})
    pd.concat([log, taken]).to_csv(interactions, index=False)  # the user took all three today
    second = night("night2")
    again = set(second.loc[second["user_id"] == user, "item_id"])
    assert len(again) == 3 and not again & set(offered), "items taken since are not offered again"


def test_demo_keeps_its_own_models_beside_yours(rec_home: Path, tiny: dict[str, Path],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """`recommend demo` once retrained over `rec` when your data differed; now it has `demo`."""
    from apps.recommender import demo as module
    from apps.recommender.demo import demo_config, demo_setup, trained_as
    from apps.recommender.scoring import TextConfig
    from apps.recommender.service import DEMO_PREFIX
    from apps.recommender.training import TrainConfig

    yours = RecommenderService(tiny["items"], tiny["interactions"])
    before = yours.ranker_card()
    demo = RecommenderService(tiny["items"], tiny["interactions"], DEMO_PREFIX)
    # the demo's ranker over the session's text models stands in for a demo training run
    recipe = TrainConfig(prefix=DEMO_PREFIX, val_fraction=0.25, text=TextConfig(max_cross=200),
                         ranker_rows=200)
    fitted = demo.fit_ranker(before["params"]["biencoder"], before["params"]["cross_encoder"], recipe)
    card, data = demo.ranker_card(), before["data_fingerprint"]
    # what the ranker leans on, by the names the dashboard uses, largest first
    weights = fitted["weights"]
    assert list(weights) == [FEATURE_NAMES[f] for f in sorted(card["params"]["coef"],
                                                               key=lambda f: -abs(card["params"]["coef"][f]))]
    assert trained_as(card, data, recipe) and not trained_as(card, data, demo_config()), \
        "models of another recipe are not the demo's"
    assert not trained_as(card, "another file", recipe)
    monkeypatch.setattr(module, "demo_config", lambda: recipe)
    result = demo_setup(tiny["items"], tiny["interactions"], top_k=2)
    assert result["trained"] is False and result["prefix"] == DEMO_PREFIX == demo_config().prefix
    assert result["ranker"] == demo.ranker_card()["version"]
    assert pd.read_parquet(result["scores"])["rank"].max() == 2
    assert yours.ranker_card() == before, "your models stay current"
    scores = Path(result["scores"])
    made = scores.stat().st_mtime_ns
    assert demo_setup(tiny["items"], tiny["interactions"], top_k=2) == result
    assert scores.stat().st_mtime_ns == made, "nothing changed: the scores are reused"
    assert pd.read_parquet(demo_setup(tiny["items"], tiny["interactions"], top_k=3)["scores"]
                           )["rank"].max() == 3, "another k scores again"


def test_ranker_auc_is_measured_on_held_out_users(service: RecommenderService) -> None:
    card = service.ranker_card()
    held, metrics = card["params"]["val_auc_users"], card["metrics"]
    assert held and metrics["val_users"] == len(held) < len(service.users())
    assert 0 < metrics["val_positives"] < metrics["val_rows"]
    # the tiny data validates on a handful of taken items: the card says so in one line
    assert metrics["val_positives"] < 20 and card["warning"].startswith(
        f"val_auc rests on {metrics['val_positives']} taken item(s) of {len(held)} held-out user(s)")


def test_batch_parts_of_other_models_are_not_resumed(rec_home: Path, tiny: dict[str, Path],
                                                     tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A new home retrains to `rec-ranker@v1` again: a crashed job's parts must not be reused."""
    from apps.recommender.scoring import TextConfig
    from apps.recommender.training import TrainConfig
    from shared import get_registry
    from shared.settings import get_settings

    out = tmp_path / "scores.parquet"
    old = RecommenderService(tiny["items"], tiny["interactions"])
    with pytest.raises(InjectedFailure):
        old.score(out, candidates=tiny["candidates"], chunk_size=1, fail_after=2)
    card, old_root, old_models = old.ranker_card(), get_registry().root, old.models()
    monkeypatch.setenv("VERTICALS_HOME", str(tmp_path / "new-home"))
    get_settings.cache_clear()
    for pinned in (card["params"]["biencoder"], card["params"]["cross_encoder"]):
        name = pinned.partition("@")[0]
        shutil.copytree(old_root / name, get_registry().root / name)
    new = RecommenderService(tiny["items"], tiny["interactions"])
    new.fit_ranker(card["params"]["biencoder"], card["params"]["cross_encoder"],
                   TrainConfig(val_fraction=0.25, text=TextConfig(max_cross=200), ranker_rows=200))
    assert new.ranker_card()["version"] == card["version"] and new.models() != old_models
    assert new.score(out, candidates=tiny["candidates"], chunk_size=1).skipped == 0


def test_a_ranker_that_gives_the_cross_encoder_no_weight_never_runs_it(
        service: RecommenderService, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same scores as with it read (its part is exactly 0), and the cross-encoder is not even
    loaded; with a weight it is read again."""
    import copy
    import dataclasses

    from apps.recommender.scoring import TextScorer

    pipe = copy.copy(service.pipeline())
    user = warm_user(service)
    weights = dict(zip(pipe.ranker.features, pipe.ranker.coef))
    pipe.ranker = dataclasses.replace(pipe.ranker, coef=[0.0 if f == "cross_score" else w
                                                          for f, w in weights.items()])
    read = pipe.top_k([user], 5)
    pipe.scorer = TextScorer(pipe.scorer.biencoder, pipe.scorer.cross_encoder)
    monkeypatch.setattr(TextScorer, "_load_classifier", lambda self: pytest.fail("cross-encoder loaded"))
    skipped = pipe.top_k([user], 5)
    assert skipped[["item_id", "rank"]].equals(read[["item_id", "rank"]])
    assert np.allclose(skipped["score"], read["score"])
    assert (skipped["cross_score"] == pipe.ranker.mean[pipe.ranker.features.index("cross_score")]).all()
    pipe.ranker = dataclasses.replace(pipe.ranker, coef=[1.0] * len(weights))
    with pytest.raises(pytest.fail.Exception, match="cross-encoder loaded"):
        pipe.top_k([user], 5)


def test_item_vectors_are_kept_on_disk_by_model_and_text(
        service: RecommenderService, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new process over the same catalogue reads the vectors back instead of embedding 10k
    items again; an edited item text, or another bi-encoder, is embedded anew."""
    from apps.recommender.scoring import TextScorer

    texts = list(service.items["text"])
    first = TextScorer(service.pipeline().scorer.biencoder)
    vectors = first.embed_catalogue(texts)
    calls = []
    real = TextScorer.embed
    monkeypatch.setattr(TextScorer, "embed", lambda self, t: calls.append(len(t)) or real(self, t))
    again = TextScorer(first.biencoder).embed_catalogue(texts)
    assert calls == [] and np.array_equal(again, vectors)

    def read_only(*_args: object) -> None:
        raise OSError(30, "Read-only file system")

    import os

    utime = os.utime
    monkeypatch.setattr("apps.recommender.scoring.os.utime", read_only)  # a read-only home
    assert np.array_equal(TextScorer(first.biencoder).embed_catalogue(texts), vectors) and calls == []
    monkeypatch.setattr("apps.recommender.scoring.os.utime", utime)
    edited = [texts[0] + " A second edition."] + texts[1:]
    assert not np.array_equal(TextScorer(first.biencoder).embed_catalogue(edited)[0], vectors[0])
    TextScorer("minilm").embed_catalogue(texts)
    assert calls == [len(texts), len(texts)]
