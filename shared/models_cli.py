"""``verticals models``: the versioned registry from the command line (list, show, promote,
rollback), and each model's exported forms (export) and word attributions (explain)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from .errors import RegistryError, VerticalsError, a_kind
from .output import JsonFlag, emit, emit_rows

models_app = typer.Typer(help="The versioned model registry.", no_args_is_help=True)


# the figures `models list` shows, in its order (a model has those its kind measures)
HEADLINE_KEYS = ("accuracy", "macro_f1", "val_accuracy", "val_macro_f1", "val_auc", "perplexity_after",
                 "recall_at_1_after", "mrr_after")


def _headline(metrics: dict) -> dict:
    """Test accuracy, macro-F1 and ECE; a model trained without a test set shows its validation
    figures instead (``val_accuracy``, ``val_macro_f1``; a ranker's ``val_auc``), named as such;
    an encoder its held-out perplexity, a bi-encoder its held-out recall@1 and MRR."""
    keys = ("accuracy", "macro_f1", "ece") if "accuracy" in metrics else HEADLINE_KEYS[2:]
    return {k: v for k, v in metrics.items() if k in keys}


@models_app.command("list")
def list_models(as_json: JsonFlag = False) -> None:
    """Every model, its current version and headline metrics."""
    from .registry import get_registry

    registry = get_registry()
    rows = []
    for name in registry.names():
        current, versions = registry.current(name), registry.versions(name)
        try:
            card = registry.card(name, current or versions[-1])  # none promoted yet: the newest
        except RegistryError as err:  # one damaged card must not hide the rest
            print(f"warning: {err}", file=sys.stderr)
            card = {}
        rows.append({"name": name, "current": current, "versions": versions,
                     "kind": card.get("kind"), **_headline(card.get("metrics", {}))})
    if as_json:
        print(json.dumps({"models": rows}))
        return
    emit_rows([{"name": r["name"], "current": r["current"] or "-", "kind": r["kind"], "versions": len(r["versions"]),
                "metrics": " ".join(f"{k}={r[k]:.3f}" for k in HEADLINE_KEYS if isinstance(r.get(k), float))}
               for r in rows], "models", False,
              "no models yet: `verticals finetune classify --train T.csv` registers one")


@models_app.command("show")
def show(name: str, version: str | None = None, as_json: JsonFlag = False) -> None:
    """Print a model's card as JSON (indented; --json: on one line); without --json, a line on
    stderr says whether the version is the current one and how it was exported."""
    from .backends import export_report
    from .export import TRANSFORMER_KINDS, summary
    from .registry import get_registry

    registry = get_registry()
    card = registry.card(name, version)
    print(json.dumps(card, indent=None if as_json else 2))
    if not as_json:
        name = name.partition("@")[0]  # "toy@v1" names its version
        current, report = registry.current(name), export_report(registry.path(name, card["version"]))
        state = "current: it is what loads by name" if current == card["version"] else f"not current ({current} is)"
        transformer = card.get("kind", "classifier") in TRANSFORMER_KINDS
        exported = "" if not transformer else f"; exported: {summary(report)}" if report else \
            f"; not exported: torch serves it (`verticals models export {name}` measures the faster forms)"
        print(f"{name} {card['version']}: {state}{exported}", file=sys.stderr)


@models_app.command("promote")
def promote(name: str, version: str, as_json: JsonFlag = False) -> None:
    """Make VERSION the one that loads by name ("latest": the newest version)."""
    from .registry import get_registry

    registry = get_registry()
    registry.promote(name, version)
    version = registry.current(name)  # "latest" -> the version it named
    print(json.dumps({"name": name, "current": version}) if as_json else f"{name}: {version} is current")


@models_app.command("rollback")
def rollback(name: str, as_json: JsonFlag = False) -> None:
    """Go back to the previously promoted version."""
    from .registry import get_registry

    version = get_registry().rollback(name)
    print(json.dumps({"name": name, "current": version}) if as_json else f"{name}: {version} is current")


@models_app.command("export")
def export(
    name: str,
    int8: Annotated[bool, typer.Option(
        "--int8/--no-int8", help="Also the lossy forms: int8 ONNX and (with native bf16) bf16.")] = True,
    embedder: Annotated[bool, typer.Option(help="Export as a sentence embedder (bi-encoders, base models).")] = False,
    texts: Annotated[Path | None, typer.Option(
        help="Texts to check agreement on (default: what the version keeps: a classifier's test "
             "set, a bi-encoder's held-out pairs, an encoder's held-out texts); a cross-encoder "
             "needs a table with query,passage columns.")] = None,
    text_col: Annotated[str, typer.Option(help="The text column of a table --texts.")] = "text",
    as_json: JsonFlag = False,
) -> None:
    """Export to ONNX (+ int8, and bf16 on a CPU with native bf16), check agreement with the original, measure speed."""
    from .backends import FILES, MIN_AGREEMENT, best_form, export_dir
    from .export import cut, export_model
    from .models import resolve_model

    path = resolve_model(name)
    kind = json.loads((path / "card.json").read_text()).get("kind") if (path / "card.json").exists() else "encoder"
    if embedder and kind in ("classifier", "cross_encoder"):
        raise VerticalsError(f"{name} is {a_kind(kind)}: it serves labels, not sentence vectors — "
                             "export it without --embedder")
    check, pairs = _check_inputs(name, path, kind, texts, text_col)
    report = export_model(path, check, embed=embedder or kind in ("biencoder", "encoder"), int8=int8,
                          check_pairs=pairs)
    served = best_form(path)  # named from the report: no session is started to name it
    failed = [form for form in FILES if report.get(f"{form}_agreement", 1.0) < MIN_AGREEMENT]
    written = {f: export_dir(path) / file for f, file in FILES.items()
               if file and (export_dir(path) / file).is_file() and f"{f}_agreement" in report}
    emit({"name": name, **report, "serves": served or "torch",
          "files": {f: f"{p} ({p.stat().st_size / 1e6:.0f} MB)" for f, p in written.items()},
          **({"not_served": {f: f"agreement {cut(report[f'{f}_agreement'], 4)} < {MIN_AGREEMENT}" for f in failed}}
             if failed else {})}, as_json)


def _check_inputs(name: str, path: Path, kind: str, texts: Path | None,
                  text_col: str = "text") -> tuple[list[str], list[str] | None]:
    """What ``models export`` checks agreement on: ``--texts``, else the texts the version keeps
    (``export.kept_texts``); a cross-encoder's (query, passage) pairs always come from ``--texts``."""
    from .data import read_table, read_texts
    from .export import TRANSFORMER_KINDS, kept_texts

    if kind not in TRANSFORMER_KINDS or not (path / "config.json").is_file():
        raise VerticalsError(f"{name} is a {kind or 'model without a transformer'}: it has no transformer to export")
    if kind == "cross_encoder":  # checked on what it serves: (query, passage) pairs
        if texts is None:
            raise VerticalsError(f"{name} is a cross-encoder: pass --texts FILE with query,passage "
                                 "columns to check agreement on pairs")
        frame = read_table(texts, ["query", "passage"])
        return frame["query"].tolist()[:2000], frame["passage"].tolist()[:2000]
    check = read_texts(texts, text_col, "--text-col") if texts is not None else kept_texts(path, kind)
    if not check:
        raise VerticalsError(f"{name} keeps no texts to check agreement on: pass --texts FILE, one text "
                             "per line or a table with a text column")
    return check[:2000], None


@models_app.command("explain")
def explain_cmd(
    name: str, text: str,
    pair: Annotated[str | None, typer.Option(
        help="A cross-encoder's second text (the passage or item TEXT is scored against); "
             "its words are kept whole while TEXT's are explained.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The words that pushed a classifier's prediction for TEXT: each word's score is how much the
    predicted label's probability falls without it (printed strongest first; --json: every word
    in text order, for highlighting)."""
    from .classifier import load_classifier
    from .explanations import explain, read_chars
    from .registry import Registry

    kind = Registry().card(name).get("kind", "classifier")  # before loading: a ranker "held no model"
    if kind not in ("classifier", "cross_encoder"):
        raise VerticalsError(f"{name} is {a_kind(kind)}: explain needs a classifier")
    classifier = load_classifier(name)
    if not classifier.labels:
        raise VerticalsError(f"{name} has no labels (no id2label in its config.json): explain needs a "
                             "classifier trained with labels")
    if kind == "cross_encoder" and pair is None:
        raise VerticalsError(f"{name} is a cross-encoder: it scores a pair — pass --pair TEXT, the passage "
                             "or item that TEXT is scored against")
    if kind == "classifier" and pair is not None:
        raise VerticalsError(f"{name} is a classifier of single texts: drop --pair")
    attributions = explain(classifier, text, pair=pair)
    probs = classifier.predict_proba([text], pairs=[pair] if pair is not None else None)[0]
    read = read_chars(classifier, text) if pair is None else None
    unread = text[read:].strip() if read is not None else ""
    result = {"label": classifier.labels[int(probs.argmax())], "probability": round(float(probs.max()), 4),
              "attributions": attributions, **({"unread": unread} if unread else {})}
    if as_json:
        print(json.dumps(result))
        return
    print(f"prediction: {result['label']} (p {result['probability']:.2f}); each word: how much that "
          "probability falls without it")
    if unread:
        print(f"note: the model reads {classifier.max_length} tokens; not read: “{unread[:60]}"
              f"{'…' if len(unread) > 60 else ''}”")
    for token, score in sorted(attributions, key=lambda t: -abs(t[1]))[:10]:
        print(f"  {token:<20} {score:+.3f}")
