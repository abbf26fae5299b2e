"""Training and evaluating the two models (sentiment, topic) with the core.

Labelled files are CSVs with ``text`` and ``sentiment`` and/or ``topic`` columns; a plain
``text,label`` file works too. Numeric labels are mapped through a ``classes.txt`` beside the
file (the layout of the public Twitter financial-news topic set); a ``.txt`` file holds
Financial PhraseBank's ``sentence@sentiment`` lines.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, replace
from pathlib import Path

from shared import (
    Classifier,
    DataError,
    LabelledText,
    ModelNotFoundError,
    Registry,
    TrainConfig,
    VerticalsError,
    classification_metrics,
    export_model,
    finetune_classifier,
    get_registry,
    judge_against_serving,
    load_classifier,
    read_table,
)
from shared.data import (
    case_label_notes,
    check_labels_known,
    file_row,
    is_phrasebank,
    read_labelled,
    read_phrasebank,
    read_text_file,
    split_notes,
    table_columns,
    thin_label_notes,
)
from shared.export import CHECK_TEXTS
from shared.registry import check_name

from .classify import SENTIMENTS, clean_text, untrained
from .config import ModelConfig

log = logging.getLogger(__name__)

DEMO_DIR = Path(__file__).resolve().parents[2] / "datasets" / "finance"
# the public sets beside the checkout (../shared/datasets): `finance train`'s defaults where present
PUBLIC_DIR = Path(__file__).resolve().parents[3] / "shared" / "datasets"
PUBLIC_SENTIMENT = PUBLIC_DIR / "financial_phrasebank" / "splits" / "allagree_train.csv"
PUBLIC_TOPICS = PUBLIC_DIR / "twitter_financial_news_topic" / "topic_train.csv"


@dataclass(frozen=True)
class TrainPlan:
    """What to train: a labelled file per task (the same file may serve both)."""

    sentiment: Path | None
    topics: Path | None
    test: Path | None = None
    caveat: str = ""  # what the models' cards should warn of their test scores (the demo's)


def default_plan(sentiment: Path | None, topics: Path | None, test: Path | None) -> tuple[TrainPlan, str]:
    """What ``finance train`` learns from, and a note saying so when it chose: given neither
    file, Financial PhraseBank (AllAgree) and the 20 Twitter financial-news topics from
    ../shared/datasets, else the bundled demo sets; given one, that task alone."""
    if sentiment or topics:
        return TrainPlan(sentiment, topics, test), ""
    if PUBLIC_SENTIMENT.is_file() and PUBLIC_TOPICS.is_file():
        return TrainPlan(PUBLIC_SENTIMENT, PUBLIC_TOPICS, test), (
            f"training on the public sets: sentiment {PUBLIC_SENTIMENT}, topics {PUBLIC_TOPICS} (close to an hour "
            "on 2 CPU cores; pass --sentiment/--topics for others)")
    return TrainPlan(DEMO_DIR / "train.csv", DEMO_DIR / "train.csv", test), (
        f"no public sets at {PUBLIC_DIR}: training on the bundled demo sets ({DEMO_DIR / 'train.csv'})")


def read_column(path: str | Path, column: str, fallback: bool = True,
                min_classes: int = 2) -> list[LabelledText]:
    """``text`` + ``column`` (or, with ``fallback``, ``label``) rows; numeric labels mapped via
    ``classes.txt``; a ``.txt`` file holds Financial PhraseBank's ``sentence@sentiment`` lines.
    Training needs two classes; a test set may hold one."""
    path = Path(path)
    rows = _phrasebank_rows(path, column) if is_phrasebank(path) else _table_rows(path, column, fallback)
    if column == "sentiment":  # subtle: "Positive" and "NEGATIVE" were refused, told to rename bearish
        rows = [replace(r, label=r.label.lower()) if r.label.lower() in SENTIMENTS else r for r in rows]
    if len({r.label for r in rows}) < min_classes:
        raise DataError(path, None, f"only one {column} label", "a classifier needs two or more")
    return rows


def _phrasebank_rows(path: Path, column: str) -> list[LabelledText]:
    if column != "sentiment":
        raise DataError(path, None, f"a .txt file is read as Financial PhraseBank sentences (sentence@sentiment), "
                        f"which name no {column}", f"pass a CSV with text,{column} columns")
    return [LabelledText(clean_text(r.text), r.label) for r in read_phrasebank(path)]


def _table_rows(path: Path, column: str, fallback: bool) -> list[LabelledText]:
    if path.is_file() and path.stat().st_size == 0:  # read_table's hint would list both columns
        raise DataError(path, None, "is empty (0 bytes)", f"write the header text,{column} and rows below it")
    wanted = [column, "label"] if fallback else [column]
    try:
        frame = read_table(path, ["text"], optional=list(dict.fromkeys(wanted)))
    except DataError:  # subtle: "headline,mood" named text alone, and the label column came a run later
        found = table_columns(path)
        if found and not {c.strip().casefold() for c in found} & {"text", *wanted}:
            either = " or ".join(dict.fromkeys(wanted))
            raise DataError(path, 1, f"missing columns text and {either} (found: {', '.join(found)})",
                            "name them in the header") from None
        raise
    name = column if column in frame.columns else "label"
    if name not in frame.columns:
        if not fallback:
            raise DataError(path, 1, f"no {column!r} column",
                            "a file used for both tasks needs text,sentiment,topic columns; "
                            "or train one task at a time")
        raise DataError(path, 1, f"no {column!r} or 'label' column",
                        f"add a {column} column (text,{column})")
    labels = [v.strip() for v in frame[name]]
    for position, label in enumerate(labels):
        if not label:
            raise DataError(path, file_row(path, position), f"empty {name!r}",
                            "fill the cell or delete the row")
    classes = path.parent / "classes.txt"
    if column == "topic" and not classes.exists() and all(v.isdigit() for v in labels):
        # subtle: trained as they were, trends and alerts named topics "7" and "12"
        raise DataError(path, None, f"every {name} is a number and no classes.txt is beside the file",
                        "put classes.txt there (one topic name per line, label 0 first) or write the names")
    if classes.exists() and all(v.isdigit() for v in labels):
        names = _class_names(classes)
        for position, label in enumerate(labels):
            if int(label) >= len(names):
                raise DataError(path, file_row(path, position), f"label {label} has no name in {classes} "
                                f"({len(names)} names, labels 0-{len(names) - 1})",
                                "fix the label or add its name to classes.txt")
        labels = [names[int(v)] for v in labels]
    return [LabelledText(clean_text(t), lab) for t, lab in zip(frame["text"], labels, strict=True)]


def _class_names(classes: Path) -> list[str]:
    """The label names of ``classes.txt``, one per line (label 0 first)."""
    text = read_text_file(classes, "a text file with one label name per line")
    return [line.strip() for line in text.splitlines() if line.strip()]


def holdout(rows: list[LabelledText], fraction: float = 0.2,
            seed: int = 42) -> tuple[list[LabelledText], list[LabelledText]]:
    """A stratified (train, test) split; retrain needs a fixed test set kept with the model."""
    rng, train, test = random.Random(seed), [], []
    for label in sorted({r.label for r in rows}):
        members = [r for r in rows if r.label == label]
        rng.shuffle(members)
        cut = int(round(len(members) * fraction)) if len(members) > 2 else 0
        test += members[:cut]
        train += members[cut:]
    return train, test


def check_sentiment_labels(rows: list[LabelledText], path: str | Path) -> None:
    """Sentiment labels must be negative / neutral / positive (at least the first and last).

    subtle: trends count "negative" and the net score reads P(positive) - P(negative); a model
    trained on bullish/bearish trained fine, then every article scored 0 and no alert fired.
    """
    labels = sorted({r.label for r in rows})
    unknown = [label for label in labels if label not in SENTIMENTS]
    if unknown or not {"negative", "positive"} <= set(labels):
        first = next((i for i, r in enumerate(rows) if r.label in unknown), None)
        raise DataError(path, None if first is None else file_row(path, first),
                        f"sentiment labels must be {', '.join(SENTIMENTS)} (trends and alerts count "
                        f"'negative'), got {unknown or labels}",
                        "rename them (e.g. bearish -> negative, bullish -> positive)" if unknown else
                        "add rows of both negative and positive")


def data_notes(train: list[LabelledText], test: list[LabelledText]) -> list[str]:
    """What a user should know of their rows before training, as ``finetune classify`` says it:
    labels too thin to learn, labels differing only in case, test rows the training rows hold
    and training labels the test set lacks (:mod:`shared.data`)."""
    return thin_label_notes(train) + case_label_notes(train) + (split_notes(train, test) if test else [])


def train_task(column: str, name: str, data: tuple[list[LabelledText], list[LabelledText]],
               config: TrainConfig, test_path: Path, registry: Registry | None = None,
               lossy: bool = False, caveat: str = "", notes: list[str] | None = None) -> dict:
    """Fine-tune and register one model on (train, test) rows, then export its ONNX and int8
    forms, checked on the test texts (classification serves the fastest form that agreed;
    lossless ones only, unless ``lossy``: the config's ``[models] lossy``).
    It replaces the model serving now only if it is not worse on the same test rows
    (:func:`shared.judge_against_serving`); returns its version, test metrics, the served form
    and whether it serves, and why. ``notes``: :func:`data_notes` of the rows, where the caller
    has them already.

    subtle: promoted unjudged, a 6-row sentiment file replaced a model at 1.000 test accuracy
    with one at 0.667, and a 3-row topic file with no test rows replaced the demo's 20 topics
    with two.
    """
    registry = registry or get_registry()
    train, test = data
    # what makes the test scores mean less than they seem, on the card as `finetune classify` puts it
    notes = data_notes(train, test) if notes is None else notes
    warning = "; ".join(filter(None, [caveat, *notes]))
    result = finetune_classifier(train, test, config, name, test_path=str(test_path),
                                 card_extra={"task": column, "app": "finance_monitor"}
                                 | ({"warning": warning} if warning else {}),
                                 registry=registry, promote=False)
    path = registry.path(name, result.version)
    export_model(path, [r.text for r in (test or train)][:CHECK_TEXTS])
    promoted, reason = judge_against_serving(name, result.version, test, registry, lossless=not lossy)
    if promoted:
        registry.promote(name, result.version)
    else:
        reason += f" (`verticals models promote {name} {result.version}` serves it anyway)"
    return {"name": name, "version": result.version,
            "accuracy": result.metrics.get("accuracy"), "macro_f1": result.metrics.get("macro_f1"),
            "served_as": Classifier(path, lossless=not lossy).backend_name, "promoted": promoted, "reason": reason,
            **({"notes": notes} if notes else {})}


def train_models(plan: TrainPlan, config: TrainConfig, models: ModelConfig,
                 registry: Registry | None = None) -> list[dict]:
    """Train whichever of the two tasks the plan names.

    Every file is read and checked before any training, so a bad test file fails at once,
    not after the first model is registered. A file serving both tasks must name its
    columns: a bare ``label`` column cannot be the sentiment and the topic at once.
    """
    tasks = [(column, path, name) for column, path, name in
             (("sentiment", plan.sentiment, models.sentiment), ("topic", plan.topics, models.topic))
             if path is not None]
    both = len(tasks) == 2
    data = {}
    for _, _, name in tasks:  # a bad name for the second model must not cost the first one
        check_name(name)
        (registry or get_registry()).check_kind(name, "classifier")
    for column, path, _ in tasks:
        rows = read_column(path, column, fallback=not (both and plan.sentiment == plan.topics))
        if column == "sentiment":
            check_sentiment_labels(rows, path)
        if plan.test is None:
            data[column] = holdout(rows)
            continue
        test = read_column(plan.test, column, fallback=not both, min_classes=1)
        check_labels_known(test, {r.label for r in rows}, plan.test)
        data[column] = rows, test
    # subtle: these notes reached the model card only, so "Earnings" beside "earnings" trained as
    # two topics without a word; said before minutes of training
    notes = {column: data_notes(*data[column]) for column, _, _ in tasks}
    for column, _, name in tasks:
        for note in notes[column]:
            log.warning("note: %s (%s): %s", name, column, note)
    return [train_task(column, name, data[column], config, plan.test or path, registry, models.lossy, plan.caveat,
                       notes[column]) for column, path, name in tasks]


def _label_task(test_path: str | Path, names: dict[str, str]) -> str:
    """The task a ``text,label`` file tests: the model that knows all its labels, else the one
    that knows most of them (whose check then names the first unknown label)."""
    labels = {r.label for r in read_column(test_path, "label", fallback=False, min_classes=1)}
    known = {}
    for column, name in names.items():
        try:
            known[column] = labels & set(load_classifier(name).labels)
        except VerticalsError:  # not trained yet: the other model may still fit the file
            known[column] = set()
    return max(known, key=lambda column: (known[column] == labels, len(known[column])))


def check_eval_labels(rows: list[LabelledText], column: str, known: list[str], path: str | Path,
                      from_label: bool = False) -> None:
    """Fail on the first label the model cannot predict, naming its row and the labels it can:
    ``t.csv, row 2: sentiment must be negative, neutral or positive, got 'pos'``."""
    names = sorted(known)
    expected = f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else repr(names[0])
    fix = ("a 'label' column is scored by the model that knows the most of its labels "
           "(sentiment when neither does); name the column sentiment or topic to choose"
           if from_label else "fix the label or drop the row")
    check_labels_known(rows, set(known), path,
                       lambda label: f"{column} must be {expected}, got {label!r}", fix)


def evaluate_models(test_path: str | Path, models: ModelConfig) -> dict:
    """Accuracy and macro-F1 of the current models on a labelled file: its ``sentiment`` and
    ``topic`` columns, or a ``label`` column scored by the model whose labels it uses; ``notes``
    where the model's own training rows (kept in its version) make the scores weaker than they
    look (:func:`shared.data.split_notes`: test rows it learnt, labels the file lacks)."""
    names = {"sentiment": models.sentiment, "topic": models.topic}
    if is_phrasebank(test_path):  # sentence@sentiment lines
        present = {"text", "sentiment"}
    else:
        present = set(read_table(test_path, ["text"], optional=["sentiment", "topic", "label"]).columns)
    columns = [c for c in names if c in present]
    if not columns and "label" in present:
        columns = [_label_task(test_path, names)]
    out: dict = {}
    notes: list[str] = []
    for column in columns:
        rows = read_column(test_path, column, min_classes=1)
        try:
            classifier = load_classifier(names[column], lossless=not models.lossy)  # as `run` serves it
        except ModelNotFoundError as exc:
            raise VerticalsError(untrained(exc)) from None
        # subtle: a label the model cannot predict ("Positive") would only lower the score
        # silently; train refuses such a test file, so eval does too
        check_eval_labels(rows, column, classifier.labels, test_path,
                          from_label=column not in present)
        predicted = classifier.predict([r.text for r in rows])
        metrics = classification_metrics([r.label for r in rows], predicted)
        out[f"{column}_accuracy"] = round(float(metrics["accuracy"]), 4)
        out[f"{column}_macro_f1"] = round(float(metrics["macro_f1"]), 4)
        # subtle: the training file itself scored 0.84 beside 0.73 held out, without a word
        if (kept := classifier.path / "train.csv").is_file():
            notes += [f"{column}: {note}" for note in split_notes(read_labelled(kept, min_classes=1), rows)]
    if not out:
        raise DataError(test_path, 1, "no sentiment, topic or label column", "add one of them")
    return out | ({"notes": notes} if notes else {})
