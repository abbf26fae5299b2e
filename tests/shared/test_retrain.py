"""Retraining: old + new data, judged on the card's fixed eval set, promoted only if not worse."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from shared.classifier import Classifier
from shared.data import LabelledText, read_labelled, write_labelled
from shared.errors import RegistryError, VerticalsError
from shared.export import export_model
from shared.registry import Registry
from shared.retraining import (
    decide,
    judge_against_serving,
    retrain,
    retrain_from_file,
    schedule_retrain,
    score_on,
)

from .conftest import toy_rows


def install(source: Path, registry: Registry, name: str, swap_labels: bool = False) -> None:
    """Put a copy of a trained version in ``registry`` as ``name`` v1, with a cheap recipe.

    ``swap_labels`` relabels the output (pos <-> neg): a real model that is always wrong.
    """
    target = registry.root / name / "v1"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("export"))
    card = json.loads((target / "card.json").read_text())
    card["params"] |= {"epochs": 1, "batch_size": 16}  # keep the retrain in the test budget
    if swap_labels:
        card["labels"] = card["labels"][::-1]
        config = json.loads((target / "config.json").read_text())
        config["id2label"] = {k: card["labels"][int(k)] for k in config["id2label"]}
        config["label2id"] = {v: int(k) for k, v in config["id2label"].items()}
        (target / "config.json").write_text(json.dumps(config))
    (target / "card.json").write_text(json.dumps(card | {"name": name, "thresholds": {"x": 0.5}}))
    registry.promote(name, "v1")


def flipped(rows: list[LabelledText]) -> list[LabelledText]:
    return [LabelledText(r.text, "neg" if r.label == "pos" else "pos") for r in rows]


def not_evaluated(rows: list[LabelledText], registry: Registry, name: str) -> list[LabelledText]:
    """The rows whose texts are not in ``name`` v1's evaluation set (retrain leaves those out)."""
    evaluated = {r.text for r in read_labelled(registry.path(name, "v1") / "eval.csv")}
    return [r for r in rows if r.text not in evaluated]


def test_decide_both_ways_and_ties_promote():
    assert decide({"macro_f1": 0.8}, {"macro_f1": 0.9})[0] is True
    assert decide({"macro_f1": 0.8}, {"macro_f1": 0.8})[0] is True
    promoted, reason = decide({"macro_f1": 0.9}, {"macro_f1": 0.7})
    assert promoted is False and reason == "macro_f1 0.7000 < 0.9000 (old): kept the old version"


def test_worse_model_is_discarded_and_the_same_data_not_retried(home, full_model, session_registry, tmp_path):
    registry = Registry()
    install(session_registry.path("toy-full"), registry, "toy")
    new = write_labelled(flipped(not_evaluated(toy_rows(150, 7), registry, "toy")), tmp_path / "new.csv")
    report = retrain_from_file("toy", str(new))
    assert report.old_metrics["macro_f1"] >= 0.8  # the old model is good on the fixed eval set
    assert not report.promoted and report.new_metrics["macro_f1"] < report.old_metrics["macro_f1"]
    assert report.version == "v2" and report.reason.endswith("kept the old version; v2 discarded")
    assert registry.versions("toy") == ["v1"] and registry.current("toy") == "v1"
    assert sorted(p.name for p in (registry.root / "toy").iterdir()) == [
        "CURRENT", "DISCARDED", "HISTORY", "LAST_RETRAIN.json", "v1"]  # no weights left behind
    assert retrain_from_file("toy", str(new)) is None  # same rejected rows: not tried again
    assert registry.versions("toy") == ["v1"]


def test_better_model_is_promoted_and_the_same_data_is_not_reused(home, full_model, session_registry, tmp_path):
    registry = Registry()
    install(session_registry.path("toy-full"), registry, "toy", swap_labels=True)
    export_model(registry.path("toy", "v1"), [r.text for r in toy_rows(8, 9)], int8=False,
                 max_length=24)  # the old version serves ONNX: so must its successor
    rows = not_evaluated(toy_rows(80, 8), registry, "toy")
    new = write_labelled(rows, tmp_path / "new.csv")
    report = retrain_from_file("toy", str(new))
    assert report is not None and report.promoted and report.version == "v2" and report.left_out == 0
    assert report.old_metrics["macro_f1"] <= report.new_metrics["macro_f1"]
    assert registry.current("toy") == "v2" and report.current == "v2"
    served = Classifier(registry.path("toy", "v2"))
    assert served.backend_name == "model.onnx", "exported like v1 (ONNX, no int8)"
    assert not (registry.path("toy", "v2") / "export" / "model.int8.onnx").exists()
    fixed = read_labelled(registry.path("toy", "v2") / "eval.csv")
    assert report.new_metrics == score_on(served, fixed), "judged in the form that serves"
    assert retrain_from_file("toy", str(new)) is None  # same rows again: nothing to learn
    assert registry.versions("toy") == ["v1", "v2"]
    card = registry.card("toy", "v2")
    old_rows = read_labelled(registry.path("toy", "v1") / "train.csv")
    kept = [r for r in old_rows if r.text not in {n.text for n in rows}]
    assert 0 < len(kept) < len(old_rows)  # the relabelled texts replaced their old rows
    assert card["retrained_from"] == "v1" and card["train_rows"] == len(kept) + len(rows)
    trained_on = read_labelled(registry.path("toy", "v2") / "train.csv")
    assert {(r.text, r.label) for r in trained_on} == {(r.text, r.label) for r in kept + rows}
    assert card["thresholds"] == {"x": 0.5}  # what an app added to the card travels along
    # the fixed evaluation set travels unchanged to the new version
    assert (registry.path("toy", "v2") / "eval.csv").read_text() == \
        (registry.path("toy", "v1") / "eval.csv").read_text()


def test_a_trained_version_replaces_the_serving_one_only_if_not_worse(home, full_model, session_registry):
    registry = Registry()
    install(session_registry.path("toy-full"), registry, "good")
    install(session_registry.path("toy-full"), registry, "toy", swap_labels=True)  # always wrong
    shutil.copytree(registry.path("good", "v1"), registry.root / "toy" / "v2")  # a trained good one
    rows = toy_rows(24, 8)
    promoted, reason = judge_against_serving("toy", "v2", rows)
    assert promoted and reason.startswith("macro_f1 ") and reason.endswith("(old): promoted")
    registry.promote("toy", "v2")
    promoted, reason = judge_against_serving("toy", "v1", rows)
    assert not promoted and reason.endswith("kept the old version")
    assert judge_against_serving("toy", "v1", []) == (False, "no test rows to compare it with v2, which keeps serving")
    odd = rows + [LabelledText("a new kind of text", "other")]
    assert judge_against_serving("toy", "v1", odd) == (True, "v2 does not know the labels ['other']: promoted")
    assert judge_against_serving("nothing", "v1", rows) == (True, "no version was serving: promoted")
    assert registry.current("toy") == "v2"  # judging never promotes


def test_new_rows_from_the_evaluation_set_are_never_trained_on(home, full_model, session_registry, tmp_path):
    """A retrain on the test file itself was promoted for scoring well on what it had learnt."""
    registry = Registry()
    install(session_registry.path("toy-full"), registry, "toy")
    evaluated = read_labelled(registry.path("toy", "v1") / "eval.csv")
    with pytest.raises(VerticalsError, match=r"every new row's text is in toy's fixed evaluation set .*eval\.csv\): "
                                             r"training on them would judge"):
        retrain("toy", [LabelledText(f"  {r.text.upper()} ", r.label) for r in evaluated[:5]])
    assert registry.versions("toy") == ["v1"], "nothing trained"
    rows = not_evaluated(toy_rows(40, 8), registry, "toy")[:6] + evaluated[:3]
    report = retrain("toy", rows)
    assert report.left_out == 3 and report.new_labels == []
    assert "; 3 new row(s) left out of training: their texts are in the evaluation set" in report.reason


def test_a_label_the_evaluation_set_lacks_is_judged_by_the_errors_it_causes():
    """Macro-F1 over the evaluation set's labels: a retrain that added an intent always lost
    when the new label, predicted once, entered the mean at F1 0."""
    from shared.evaluate import classification_metrics
    from shared.retraining import _summary

    truth, predicted = ["a", "a", "b", "b"], ["a", "new", "b", "b"]
    metrics = classification_metrics(truth, predicted)
    assert round(metrics["macro_f1"], 4) == 0.5556  # (2/3 + 1 + 0) / 3
    assert _summary(metrics, truth) == {"accuracy": 0.75, "macro_f1": 0.8333}  # (2/3 + 1) / 2


def test_retrain_errors_are_one_line(home, tmp_path):
    with pytest.raises(RegistryError, match="not in the registry"):
        retrain("nobody", [LabelledText("a", "b")])
    assert retrain_from_file("nobody", str(tmp_path / "missing.csv")) is None  # logged, not raised


def test_schedule_retrain_adds_a_persistent_cron_job():
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler()
    scheduler.start(paused=True)  # jobs go to the store (as in an app), none runs here
    try:
        job = schedule_retrain(scheduler, "toy", "data/new.csv", "0 3 * * *")
        again = schedule_retrain(scheduler, "toy", "data/newer.csv", "30 2 * * 1")
        assert job.id == again.id == "retrain:toy" and len(scheduler.get_jobs()) == 1
        stored = scheduler.get_job("retrain:toy")
        assert stored.args == ("toy", "data/newer.csv")
        assert stored.func_ref == "shared.retraining:retrain_from_file"  # storable by reference
        assert "hour='2'" in str(stored.trigger) and "minute='30'" in str(stored.trigger)
        assert str(stored.trigger.timezone) == "UTC"  # whatever the machine's zone
        with pytest.raises(VerticalsError, match="cron must be 5 fields"):
            schedule_retrain(scheduler, "toy", "x.csv", "every night")
    finally:
        scheduler.shutdown(wait=False)


def test_a_retrain_starts_from_the_base_version_the_model_was_trained_from(home):
    """A model trained from a registered encoder pins its version: after a shallower encoder
    of that name became current, the retrain failed ("--layers 2: the base has only 1 layers")."""
    from shared.finetune import TrainConfig, finetune_classifier
    from shared.pretrain import pretrain_mlm
    from shared.registry import get_registry

    corpus = [r.text for r in toy_rows(40, 5)]
    pretrain_mlm(corpus, "enc", max_length=16, batch_size=16, layers=2, head_steps=2)
    rows = toy_rows(60, 1)
    config = TrainConfig(base="enc", epochs=1, batch_size=16, max_length=16, layers=2)
    finetune_classifier(rows[:40], rows[40:], config, "clf")
    card = get_registry().card("clf")
    assert card["base"] == card["params"]["base"] == "enc@v1" and card["base_version"] == "v1"
    pretrain_mlm(corpus, "enc", max_length=16, batch_size=16, layers=1, head_steps=2)  # now current: 1 layer
    report = retrain("clf", toy_rows(20, 9))
    assert report.version == "v2" and get_registry().card("clf", "v2")["params"]["base"] == "enc@v1"
