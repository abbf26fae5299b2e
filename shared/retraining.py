"""Continuous learning: retrain a registered classifier on its old data plus new rows, and
promote the new version only if it is not worse on the card's fixed evaluation set.

The recipe is the card's ``params`` (a ``TrainConfig``); the old training rows and the fixed
evaluation set are the ``train.csv`` / ``eval.csv`` that ``finetune_classifier`` keeps inside
the version directory. Both versions are scored on the same ``eval.csv`` here and now, each in
the form that would serve it, so the comparison never relies on numbers from another run. When
the old version was exported (ONNX / int8), the new one is exported the same way first: a
promoted retrain serves as fast as the version it replaces. A rejected version is discarded
(weights and exports would pile up night after night); what was tried, and why it lost, stays in
``models/<name>/LAST_RETRAIN.json`` so the same rows are not tried again.

Example::

    report = retrain("intents", read_labelled("new_rows.csv"))
    print(report.promoted, report.reason)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from .backends import export_dir
from .classifier import Classifier
from .data import LabelledText, fingerprint, read_labelled, same_text
from .errors import DataError, RegistryError, VerticalsError, a_kind
from .evaluate import classification_metrics
from .export import CHECK_TEXTS, export_model
from .finetune import TrainConfig, finetune_classifier
from .registry import Registry, get_registry
from .storage import atomic_write_text

log = logging.getLogger(__name__)
DECISION_METRIC = "macro_f1"
LAST_RETRAIN = "LAST_RETRAIN.json"
# Card keys each training writes afresh; every other key (an app's thresholds, templates...)
# is carried over to the retrained version, so an app keeps working with it.
_FRESH_KEYS = {"kind", "base", "base_version", "labels", "params", "data_fingerprint", "train_rows", "history",
               "metrics", "name", "version", "created", "retrained_from", "new_rows_fingerprint"}


class AllInEvaluationSet(VerticalsError):
    """Every new row's text is in the fixed evaluation set: nothing to train on (an app may
    set such rows aside)."""


@dataclass
class RetrainReport:
    """What a retrain did: the new version, whether it was promoted, and why."""

    name: str
    version: str
    promoted: bool
    reason: str
    old_version: str
    old_metrics: dict
    new_metrics: dict
    current: str
    left_out: int = 0  # new rows not trained on: their texts are in the evaluation set
    new_labels: list[str] | None = None  # labels the old version did not know

    def to_dict(self) -> dict:
        """The one JSON schema every ``retrain --json`` prints (and ``LAST_RETRAIN.json`` keeps):
        the field names, so ``RetrainReport(**report.to_dict())`` round-trips. ``current`` is the
        version serving after the retrain; the metrics are accuracy and macro-F1 on the fixed
        evaluation set (:func:`score_on`)."""
        return asdict(self)


def decide(old: dict, new: dict, metric: str = DECISION_METRIC) -> tuple[bool, str]:
    """Promote when the new ``metric`` is not worse than the old one; say why either way.

    >>> decide({"macro_f1": 0.80}, {"macro_f1": 0.82})
    (True, 'macro_f1 0.8200 >= 0.8000 (old): promoted')
    """
    if new[metric] >= old[metric]:
        return True, f"{metric} {new[metric]:.4f} >= {old[metric]:.4f} (old): promoted"
    return False, f"{metric} {new[metric]:.4f} < {old[metric]:.4f} (old): kept the old version"


def score_on(classifier: Classifier, rows: Sequence[LabelledText]) -> dict:
    """Accuracy and macro-F1 of a loaded classifier on labelled rows (per-class left out), the
    mean F1 over the labels the rows hold (:func:`_summary`)."""
    predicted = classifier.predict([r.text for r in rows])
    truth = [r.label for r in rows]
    return _summary(classification_metrics(truth, predicted, classifier.labels), truth)


def judge_against_serving(name: str, version: str, rows: Sequence[LabelledText],
                          registry: Registry | None = None, lossless: bool = False) -> tuple[bool, str]:
    """Whether a freshly trained ``version`` of ``name`` should replace the version serving now:
    both scored on ``rows`` here, each in the form that would serve it (``lossless``: as a caller
    that serves no int8 or bf16 loads it), and the new one wins
    when its macro-F1 is not worse (:func:`decide`). With nothing serving it wins; without rows
    to judge on it does not (the serving version stays); a serving version that does not know
    some of the rows' labels cannot be judged on them, and the new one wins.

    >>> judge_against_serving("finance-sentiment", "v3", read_labelled("test.csv"))  # doctest: +SKIP
    (False, 'macro_f1 0.6667 < 1.0000 (old): kept the old version')
    """
    registry = registry or get_registry()
    serving = registry.current(name)
    if serving is None:
        return True, "no version was serving: promoted"
    if serving == version:
        return True, f"{version} is the version serving"
    if not rows:
        return False, f"no test rows to compare it with {serving}, which keeps serving"
    old = Classifier(registry.path(name, serving), lossless=lossless)
    unknown = sorted({r.label for r in rows} - set(old.labels))
    if unknown:
        return True, f"{serving} does not know the labels {unknown}: promoted"
    return decide(score_on(old, rows), score_on(Classifier(registry.path(name, version), lossless=lossless), rows))


def _fingerprint(rows: Sequence[LabelledText]) -> str:
    return fingerprint([(r.text, r.label) for r in rows])


def _summary(metrics: dict, truth: Sequence[str]) -> dict:
    """Accuracy, and macro-F1 over the labels of ``truth`` only.

    subtle: a label the evaluation set has no rows for (one the new rows add) got F1 0 in the
    mean whenever the new version predicted it, and no retrain that added an intent could win;
    its wrong predictions still cost the rows' own labels their recall."""
    held = set(truth)
    f1 = [metrics["per_class"][label]["f1"] for label in held]
    return {"accuracy": round(float(metrics["accuracy"]), 4),
            "macro_f1": round(float(sum(f1) / len(f1)), 4) if f1 else 0.0}


def _old_data(registry: Registry, name: str) -> tuple[str, Path, dict]:
    version = registry.current(name)
    if version is None:
        raise RegistryError(f"model {name!r} is not in the registry — train it first")
    directory = registry.path(name, version)
    card = registry.card(name, version)
    if card.get("kind", "classifier") != "classifier":
        raise VerticalsError(f"model {name!r} is {a_kind(card.get('kind'))}, retrain needs a classifier")
    for file in ("train.csv", "eval.csv"):
        if not (directory / file).is_file():
            raise VerticalsError(
                f"{directory} has no {file}: retrain needs the training data and fixed "
                "evaluation set that `verticals finetune classify --test` keeps — train it that way"
            )
    return version, directory, card


def _check_new(new: Sequence[LabelledText]) -> list[LabelledText]:
    rows = list(new)
    if not rows:
        raise DataError("new data", None, "has no rows", "add labelled rows to retrain on")
    for row, item in enumerate(rows, start=2):
        if not item.text.strip() or not item.label.strip():
            raise DataError("new data", row, "empty text or label", "fill the cell or drop the row")
    return rows


def retrain(
    name: str, new: Sequence[LabelledText], registry: Registry | None = None, lossless: bool = False,
    same: Callable[[str], str] = same_text,
) -> RetrainReport:
    """Retrain ``name`` with its card's recipe on old + ``new`` rows, save the result with
    ``promote=False``, and promote it only if macro-F1 on the fixed ``eval.csv`` is not worse
    (both scored in the forms that serve them; ``lossless``: as for :func:`judge_against_serving`);
    otherwise discard it (the report still names it and says why).
    A new row whose text is already in the old rows replaces it (a correction wins), texts
    compared by ``same`` (spacing and case aside; an app may pass its own); card keys an app
    added (thresholds, templates) are carried over unchanged.
    """
    registry = registry or get_registry()
    old_version, old_dir, card = _old_data(registry, name)
    new = _check_new(new)
    given = _fingerprint(new)  # what ``already_tried`` is asked about: the rows as passed
    fixed_eval = read_labelled(old_dir / "eval.csv", min_classes=1)
    # subtle: new rows from the evaluation set were trained on and then judged on, and a
    # retrain on the test file itself was promoted for scoring well on what it had learnt
    evaluated = {same(r.text) for r in fixed_eval}
    left_out = sum(same(r.text) in evaluated for r in new)
    new = [r for r in new if same(r.text) not in evaluated]
    if not new:
        raise AllInEvaluationSet(f"every new row's text is in {name}'s fixed evaluation set ({old_dir / 'eval.csv'}): "
                             "training on them would judge the new version on what it learnt — add other rows")
    relabelled = {same(r.text) for r in new}  # a corrected label replaces the one trained on before
    rows = [r for r in read_labelled(old_dir / "train.csv") if same(r.text) not in relabelled] + new
    config = TrainConfig.from_dict(card.get("params", {}))
    old_metrics = score_on(Classifier(old_dir, lossless=lossless), fixed_eval)
    carried = {k: v for k, v in card.items() if k not in _FRESH_KEYS}
    extra = carried | {"retrained_from": old_version, "new_rows_fingerprint": given}
    result = finetune_classifier(rows, fixed_eval, config, name, card_extra=extra,
                                 registry=registry, test_path=old_dir / "eval.csv", promote=False)
    version = result.version
    try:
        new_metrics = _judge(old_dir, registry.path(name, version), fixed_eval, config, result.metrics, lossless)
    except BaseException:
        registry.discard(name, version)
        raise
    promoted, reason = decide(old_metrics, new_metrics)
    if promoted:
        registry.promote(name, version)
    else:
        registry.discard(name, version)
        reason += f"; {version} discarded"
    if left_out:
        reason += f"; {left_out} new row(s) left out of training: their texts are in the evaluation set"
    added = sorted({r.label for r in new} - set(card.get("labels") or []))
    if added:
        reason += f"; new label(s) {', '.join(added)}: the evaluation set has no rows of them, so " \
                  "they count only through the errors they cause there"
    report = RetrainReport(
        name, version, promoted, reason, old_version, old_metrics, new_metrics,
        registry.current(name) or version, left_out, added,
    )
    _record(registry, report, extra["new_rows_fingerprint"])
    return report


def _judge(old_dir: Path, new_dir: Path, rows: Sequence[LabelledText], config: TrainConfig,
           trained_metrics: dict, lossless: bool = False) -> dict:
    if _export_like(old_dir, new_dir, rows, config):
        return score_on(Classifier(new_dir, lossless=lossless), rows)  # in the form that would serve
    return _summary(trained_metrics, [r.label for r in rows])


def _record(registry: Registry, report: RetrainReport, new_rows_fingerprint: str) -> None:
    """Keep the last attempt (kept or discarded) beside the versions: a few hundred bytes."""
    record = report.to_dict() | {"new_rows_fingerprint": new_rows_fingerprint}
    atomic_write_text(registry.root / report.name / LAST_RETRAIN, json.dumps(record, indent=2))


def _export_like(old_dir: Path, new_dir: Path, rows: Sequence[LabelledText],
                 config: TrainConfig) -> bool:
    """Export ``new_dir`` as ``old_dir`` was (ONNX, and int8 if it had one), checked on the fixed
    evaluation texts; False when the old version was never exported."""
    report = export_dir(old_dir) / "report.json"
    if not report.is_file():
        return False
    int8 = "int8_agreement" in json.loads(report.read_text())
    export_model(new_dir, [r.text for r in rows][:CHECK_TEXTS], int8=int8)
    return True


def already_tried(name: str, rows: Sequence[LabelledText], registry: Registry | None = None
                  ) -> bool:
    """Whether the last retrain of ``name`` (promoted or discarded) used exactly ``rows``: a
    nightly job does not repeat a rejected retrain on unchanged data."""
    registry = registry or get_registry()
    record = registry.root / name / LAST_RETRAIN
    if record.is_file():
        tried = json.loads(record.read_text()).get("new_rows_fingerprint")
    else:  # registries from before the record: the newest version's card says it
        versions = registry.versions(name)
        tried = registry.card(name, versions[-1]).get("new_rows_fingerprint") if versions else None
    return tried == _fingerprint(rows)


def retrain_from_file(
    name: str, data_path: str, text_col: str = "text", label_col: str = "label"
) -> RetrainReport | None:
    """Job body for the scheduler: retrain on the rows in ``data_path`` unless this very data was
    already used by the current version's retrain. Errors are logged, not raised (a failed
    nightly job must not stop the scheduler)."""
    try:
        new = read_labelled(data_path, text_col, label_col, min_classes=1)
        registry = get_registry()
        if already_tried(name, new, registry):
            log.info("retrain %s: %s already used by the current version, skipped", name, data_path)
            return None
        report = retrain(name, new, registry)
        log.info("retrain %s -> %s: %s", name, report.version, report.reason)
        return report
    except VerticalsError as err:
        log.error("retrain %s failed: %s", name, err)
        return None


def cron_trigger(cron: str):
    """An APScheduler trigger for a 5-field crontab line, read in UTC: ``"0 3 * * *"`` is
    03:00 UTC. subtle: ``CronTrigger.from_crontab`` alone takes the machine's time zone, even
    on a scheduler set to UTC (a New York server ran "0 3" at 08:00 UTC)."""
    from apscheduler.triggers.cron import CronTrigger

    try:
        return CronTrigger.from_crontab(cron, timezone="UTC")
    except ValueError as err:
        raise VerticalsError(f"cron must be 5 fields like '0 3 * * *', got {cron!r} ({err})"
                             ) from None


def schedule_retrain(scheduler, name: str, data_path: str | Path, cron: str, **job_options):
    """Add (or replace) a cron job on an APScheduler 3 ``scheduler`` that retrains ``name`` on
    ``data_path``; returns the ``Job``. The job is referenced by import path, so it survives in
    a persistent job store.

    >>> schedule_retrain(BackgroundScheduler(), "intents", "new.csv", "0 3 * * *")  # doctest: +SKIP
    """
    return scheduler.add_job(
        "shared.retraining:retrain_from_file", cron_trigger(cron), args=[name, str(data_path)],
        id=job_options.pop("id", f"retrain:{name}"), replace_existing=True, **job_options,
    )
