"""Classification accuracy and speed on public data: the core's default recipe vs a frozen baseline.

For each set: a baseline of frozen MiniLM sentence embeddings + logistic regression, then a
fine-tune with the core's default ``TrainConfig`` (``finetune_classifier``), then the exported
ONNX / int8 forms (``export_model``): accuracy and macro-F1 beside the published references in
../shared/datasets/README.md, training time per epoch, and inference texts/second.

    python benchmarks/classify.py --sets fpb_allagree --quick
    python benchmarks/classify.py --sets fpb_allagree --adversarial   # FGM (or --augment)
    python benchmarks/classify.py --sets banking77 --embedding-head   # + a probe on MiniLM vectors
    python benchmarks/classify.py                        # every set, full data (about an hour on 2 cores)

Timings on a shared CPU are noisy; the table prints them, nothing asserts them. Results go to
``benchmarks/results/classify-<sets>[-<recipe>][-quick].json``, rewritten after each set so a long run
that is stopped keeps what it finished.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DATASETS = Path(os.environ.get("VERTICALS_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets"))
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class BenchSet:
    """One public train/test split and the numbers to compare with."""

    name: str
    train: str
    test: str
    label_col: str
    reference: str
    target_accuracy: float


SETS = {
    s.name: s
    for s in [
        BenchSet("fpb_allagree", "financial_phrasebank/splits/allagree_train.csv",
                 "financial_phrasebank/splits/allagree_test.csv", "label",
                 "FinBERT 0.97 acc / 0.95 F1 (own split)", 0.97),
        BenchSet("fpb_50agree", "financial_phrasebank/splits/50agree_train.csv",
                 "financial_phrasebank/splits/50agree_test.csv", "label",
                 "FinBERT 0.86 acc / 0.84 F1 (own split)", 0.86),
        BenchSet("banking77", "banking77/train.csv", "banking77/test.csv", "category",
                 "BERT 0.9366 acc; USE+ConveRT 0.9336; DistilBERT ~0.92", 0.94),
        BenchSet("twitter_topic", "twitter_financial_news_topic/topic_train.csv",
                 "twitter_financial_news_topic/topic_validation.csv", "label",
                 "FinBERT-tone 0.911 acc; bert-base 0.901", 0.91),
    ]
}


def subsample(rows: list, n: int, seed: int = 0) -> list:
    """A stratified-by-shuffle subset of ``n`` rows (all rows when ``n`` is 0 or larger)."""
    if not n or n >= len(rows):
        return rows
    by_label: dict[str, list] = {}
    for row in random.Random(seed).sample(rows, len(rows)):
        by_label.setdefault(row.label, []).append(row)
    picked, queues = [], list(by_label.values())
    while len(picked) < n:  # round-robin over labels keeps every class present
        for queue in queues:
            if queue and len(picked) < n:
                picked.append(queue.pop())
    return picked


def load_set(spec: BenchSet, max_train: int, max_test: int) -> tuple[list, list]:
    from shared.data import read_labelled

    train = read_labelled(DATASETS / spec.train, label_col=spec.label_col)
    test = read_labelled(DATASETS / spec.test, label_col=spec.label_col)
    known = {r.label for r in train}
    test = [r for r in test if r.label in known]
    return subsample(train, max_train), subsample(test, max_test, seed=1)


def baseline(train: list, test: list) -> dict:
    """Frozen MiniLM sentence embeddings + logistic regression (no fine-tuning)."""
    from sklearn.linear_model import LogisticRegression

    from shared.embed import Embedder
    from shared.evaluate import classification_metrics

    embedder = Embedder("minilm")
    start = time.perf_counter()
    x_train = embedder.encode([r.text for r in train])
    x_test = embedder.encode([r.text for r in test])
    # subtle: unit-norm embeddings have tiny coordinates; C=10 lets the model use them
    model = LogisticRegression(C=10.0, max_iter=3000).fit(x_train, [r.label for r in train])
    metrics = classification_metrics([r.label for r in test], list(model.predict(x_test)))
    return {"accuracy": round(metrics["accuracy"], 4), "macro_f1": round(metrics["macro_f1"], 4),
            "seconds": round(time.perf_counter() - start, 1)}


def finetune(spec: BenchSet, train: list, test: list, registry, epochs: int | None,
             val_fraction: float = 0.1, augment: bool = False,
             adversarial: bool = False, embedding_head: bool = False) -> tuple[dict, Path]:
    """The core's default recipe (``TrainConfig()``), optionally with a fixed epoch count,
    label-preserving augmentation or FGM adversarial training.

    ``val_fraction=0`` refits on every training row for exactly ``epochs`` (no early-stopping
    carve), as the published references train: the epochs come from an earlier run's
    validation curve, never from the test set.
    """
    from shared.finetune import TrainConfig, finetune_classifier

    if not val_fraction and epochs is None:
        raise SystemExit("--val-fraction 0 needs --epochs (nothing is left to stop early on)")
    config = TrainConfig(epochs=epochs, val_fraction=val_fraction, augment=augment,
                         adversarial=adversarial, embedding_head="minilm" if embedding_head else None)
    start = time.perf_counter()
    result = finetune_classifier(train, test, config, f"bench-{spec.name}", registry=registry)
    m = result.metrics
    n_fit = round(len(train) * (1 - config.val_fraction))
    out = {
        "accuracy": round(m["accuracy"], 4), "macro_f1": round(m["macro_f1"], 4),
        "ece": round(m.get("ece", float("nan")), 4), "epochs_run": m["epochs_run"],
        "model_alone_accuracy": m.get("model_accuracy"),  # without the probe (--embedding-head)
        "seconds_per_epoch": round(m["seconds_per_epoch"], 1),
        "train_samples_per_s": round(n_fit / m["seconds_per_epoch"], 1),
        "total_seconds": round(time.perf_counter() - start, 1), "params": config.__dict__,
    }
    return out, registry.path(f"bench-{spec.name}", result.version)


def exported(model_dir: Path, test: list, n_check: int) -> dict:
    """Export to ONNX + int8 (+ bf16), time fp32 torch vs each, and score the form that serves."""
    from shared.classifier import Classifier
    from shared.evaluate import classification_metrics
    from shared.export import export_model

    check = [r.text for r in test[:n_check]]
    report = export_model(model_dir, check, max_length=64)
    served = Classifier(model_dir)
    predicted = served.predict([r.text for r in test])
    metrics = classification_metrics([r.label for r in test], predicted, served.labels)
    keys = ["torch_texts_per_s", "onnx_texts_per_s", "int8_texts_per_s", "bf16_texts_per_s",
            "onnx_agreement", "int8_agreement", "bf16_agreement"]
    return {**{k: report.get(k) for k in keys}, "served_form": served.backend_name,
            "served_accuracy": round(metrics["accuracy"], 4),
            "served_macro_f1": round(metrics["macro_f1"], 4)}


def recipe_options(args: argparse.Namespace) -> list[str]:
    """The recipe options asked for, beyond the default: ``["adversarial"]`` for --adversarial."""
    return [k for k in ("augment", "adversarial", "embedding_head") if getattr(args, k)]


def run_set(spec: BenchSet, args: argparse.Namespace, registry) -> dict:
    max_train, max_test = (600, 300) if args.quick else (args.max_train, args.max_test)
    train, test = load_set(spec, max_train, max_test)
    print(f"\n== {spec.name}: {len(train)} train, {len(test)} test", file=sys.stderr)
    row = {"set": spec.name, "recipe": "+".join(["default", *recipe_options(args)]),
           "n_train": len(train), "n_test": len(test), "reference": spec.reference,
           "target_accuracy": spec.target_accuracy}
    row["baseline"] = baseline(train, test)
    print(f"baseline: {row['baseline']}", file=sys.stderr)
    row["finetuned"], model_dir = finetune(spec, train, test, registry, args.epochs,
                                           args.val_fraction, args.augment, args.adversarial,
                                           args.embedding_head)
    print(f"fine-tuned: {row['finetuned']}", file=sys.stderr)
    if not args.no_export:
        row["export"] = exported(model_dir, test, 256 if args.quick else 512)
    return row


def table(rows: list[dict]) -> str:
    """A plain-text table of the results (one line per set)."""
    head = (f"{'set':<14}{'recipe':<21}{'train':>7}{'test':>6} | {'baseline acc/F1':>15} | {'fine-tuned acc/F1':>17}"
            f" | {'target':>6} | {'s/epoch':>7}{'ex/s':>6} | {'fp32/s':>7}{'onnx/s':>7}{'int8/s':>7}{'bf16/s':>7}"
            f"{'srv acc':>9} | reference")
    lines = [head, "-" * len(head)]
    for r in rows:
        b, f, e = r["baseline"], r["finetuned"], r.get("export", {})
        lines.append(
            f"{r['set']:<14}{r.get('recipe', 'default'):<21}{r['n_train']:>7}{r['n_test']:>6}"
            f" | {b['accuracy']:>7.4f}/{b['macro_f1']:.4f}"
            f" | {f['accuracy']:>9.4f}/{f['macro_f1']:.4f} | {r['target_accuracy']:>6.2f}"
            f" | {f['seconds_per_epoch']:>7.0f}{f['train_samples_per_s']:>6.0f}"
            f" | {_num(e.get('torch_texts_per_s')):>7}{_num(e.get('onnx_texts_per_s')):>7}"
            f"{_num(e.get('int8_texts_per_s')):>7}{_num(e.get('bf16_texts_per_s')):>7}"
            f"{_num(e.get('served_accuracy'), '.4f'):>9}"
            f" | {r['reference']}"
        )
    return "\n".join(lines)


def _num(value: float | None, fmt: str = ".0f") -> str:
    return "-" if value is None else format(value, fmt)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, from {', '.join(SETS)}")
    parser.add_argument("--quick", action="store_true", help="600 train / 300 test rows per set")
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    parser.add_argument("--val-fraction", type=float, default=0.1,
                        help="validation carve for early stopping (0 = refit on every training "
                             "row for exactly --epochs)")
    parser.add_argument("--augment", action="store_true",
                        help="fine-tune with label-preserving augmentation (TrainConfig.augment)")
    parser.add_argument("--adversarial", action="store_true",
                        help="fine-tune with FGM on the embeddings (TrainConfig.adversarial)")
    parser.add_argument("--embedding-head", action="store_true",
                        help="average in a linear probe on MiniLM vectors (TrainConfig.embedding_head)")
    parser.add_argument("--max-train", type=int, default=0, help="cap training rows (0 = all)")
    parser.add_argument("--max-test", type=int, default=0, help="cap test rows (0 = all)")
    parser.add_argument("--no-export", action="store_true", help="skip ONNX/int8 export and timing")
    parser.add_argument("--out", type=Path, default=None, help="results JSON path")
    args = parser.parse_args(argv)
    args.sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = [s for s in args.sets if s not in SETS]
    if unknown:
        parser.error(f"unknown set(s) {unknown}; choose from {list(SETS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    from shared.export import cpu_name
    from shared.registry import Registry
    from shared.storage import atomic_write_text

    args = parse_args(argv)
    if not DATASETS.is_dir():
        print(f"datasets not found at {DATASETS}: set VERTICALS_DATASETS", file=sys.stderr)
        return 1
    recipe = "".join(f"-{k}" for k in recipe_options(args))
    out = args.out or RESULTS / f"classify-{'_'.join(args.sets)}{recipe}{'-quick' if args.quick else ''}.json"
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-models-") as models:
        registry = Registry(models)
        for name in args.sets:
            rows.append(run_set(SETS[name], args, registry))
            meta = {"argv": sys.argv[1:], "cpu": cpu_name(), "cpu_count": os.cpu_count(),
                    "finished": time.strftime("%F %T"), "note": "timings on a shared, busy 2-core CPU: noisy"}
            atomic_write_text(out, json.dumps({"meta": meta, "results": rows}, indent=2))
            print(table(rows), file=sys.stderr)
    print(table(rows))
    print(f"\nCPU: {cpu_name()}\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
