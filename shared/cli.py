"""The root ``verticals`` command: ``finetune`` and ``models`` groups; apps mount their own groups
through the ``verticals.apps`` entry point, so the core never imports an app."""

from __future__ import annotations

import inspect
import os
import signal
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated

import typer

from .errors import VerticalsError
from .models_cli import models_app
from .output import JsonFlag, emit, say_error

app = typer.Typer(help="verticals: one fine-tuning core, three vertical apps.", no_args_is_help=True)
finetune_app = typer.Typer(help="Fine-tune, pretrain and retrain models.", no_args_is_help=True)
app.add_typer(finetune_app, name="finetune")
app.add_typer(models_app, name="models")

ValFraction = Annotated[float, typer.Option(  # the commands that fine-tune a text classifier
    help="Share of train carved off for early stopping; 0 fits every row for exactly --epochs.")]
# every app's dashboard command; subtle: Streamlit's own default listens on every interface,
# and a dashboard has no login (anyone on the network could acknowledge alerts or teach the bot)
Address = Annotated[str, typer.Option(
    "--address", help="Where to listen: 127.0.0.1 is this machine only; 0.0.0.0 serves the network "
                      "(the dashboards have no login).")]
COLUMN_FLAGS = "--text-col/--label-col"  # the commands that read text,label tables take both
INTERRUPTED = ("interrupted: model versions and outputs are written whole or not at all, so nothing half-written "
               "was kept; rerun the command to go on (a resumable job picks up its finished parts)")


def open_dashboard(script: Path, port: int, env: dict[str, str] | None = None,
                   address: str = "127.0.0.1") -> None:
    """Serve a Streamlit dashboard script on ``address`` (this machine only by default) until
    interrupted (every app's ``dashboard`` command). Usage statistics stay off: the suite runs
    offline."""
    if not 1 <= port <= 65535:  # Streamlit's own answer was a traceback
        raise VerticalsError(f"--port must be between 1 and 65535, got {port}")
    _check_listen(address, port)
    command = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
               "--server.address", address, "--browser.gatherUsageStats", "false",
               "--client.toolbarMode", "minimal"]  # no "Deploy" button: the suite runs offline
    # subtle: exec, not a child process: Ctrl-C or a kill reaches Streamlit itself (a child
    # outlived its killed parent and kept holding the port)
    os.execve(sys.executable, command, {**os.environ, **(env or {})})


def _check_listen(address: str, port: int) -> None:
    """One line where Streamlit could not listen: an unknown --address had printed a 52-line
    traceback, a port in use a log line on stdout."""
    import errno
    import socket

    nowhere = VerticalsError(f"--address {address!r} is no address of this machine — use 127.0.0.1 (this "
                             "machine) or 0.0.0.0 (every network it is on)")
    try:
        found = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        for family, _, _, _, where in found[:1]:  # as Streamlit binds: the first the name gives ("::" too)
            with socket.create_server(where[:2], family=family):
                pass
    except socket.gaierror:
        raise nowhere from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise VerticalsError(f"--port {port} is in use on {address} (another dashboard?) — choose another "
                                 "--port or stop that one") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise nowhere from None
        raise VerticalsError(f"cannot listen on {address}:{port} ({exc.strerror}) — choose another --port "
                             "or --address") from None


@finetune_app.command("classify")
def classify(
    train: Annotated[Path, typer.Option(help="Training CSV (text,label).")],
    test: Annotated[Path | None, typer.Option(help="Test CSV; else only validation-split scores are reported.")] = None,
    text_col: str = "text", label_col: str = "label", base: str = "minilm",
    lora: bool = False,
    epochs: Annotated[int | None, typer.Option(help="Default: 3, or more on small sets (150 steps at least).")] = None,
    batch_size: int = 32, lr: float | None = None,
    max_length: int = 64, grad_accum: int = 1, patience: int = 2,
    val_fraction: ValFraction = 0.1,
    augment: Annotated[bool, typer.Option(help="Add label-preserving augmented copies.")] = False,
    adversarial: Annotated[bool, typer.Option(help="FGM adversarial training on embeddings.")] = False,
    label_smoothing: Annotated[float, typer.Option(
        help="Spread this share of each target over all classes (0.1: for labels people disagree on).")] = 0.0,
    layers: Annotated[int | None, typer.Option(help="Keep only the base's first N layers (smaller, faster).")] = None,
    embedding_head: Annotated[str | None, typer.Option(
        metavar="EMBEDDER", help="Average in a linear probe on this embedder's vectors (e.g. minilm); "
                                 "serving then costs its pass too.")] = None,
    name: str = "classifier", as_json: JsonFlag = False,
) -> None:
    """Fine-tune a text classifier (full, or LoRA with --lora), register it, print test metrics."""
    from .data import case_label_notes, read_labelled, split_notes, thin_label_notes
    from .finetune import TrainConfig, finetune_classifier
    from .registry import get_registry

    config = TrainConfig(base=base, epochs=epochs, batch_size=batch_size, lr=lr, max_length=max_length,
                         grad_accum=grad_accum, patience=patience, val_fraction=val_fraction, lora=lora,
                         augment=augment, adversarial=adversarial, label_smoothing=label_smoothing, layers=layers,
                         embedding_head=embedding_head)
    rows = read_labelled(train, text_col, label_col, column_flags=COLUMN_FLAGS)
    test_rows = read_labelled(test, text_col, label_col, min_classes=1, column_flags=COLUMN_FLAGS) if test else None
    notes = thin_label_notes(rows) + case_label_notes(rows) + (split_notes(rows, test_rows) if test_rows else [])
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    registry = get_registry()
    before = registry.current(name)
    serving = registry.card(name, before).get("metrics", {}).get("macro_f1") if before else None
    extra = {"columns": {"text": text_col, "label": label_col}}  # what `retrain` reads new rows by
    result = finetune_classifier(rows, test_rows, config, name, test_path=test or "test set",
                                 card_extra=extra | ({"warning": "; ".join(notes)} if notes else {}))
    if test_rows is None:  # "per_class": {} alone said nothing, and retrain judges on the card's test set
        scored = ("its scores are the validation split's" if "val_macro_f1" in result.metrics else
                  "the model is registered without scores (no validation split: --val-fraction 0, or too few rows)")
        notes.append(f"no --test: {scored}; `finetune retrain` needs a test set to judge a new version on")
        print(f"note: {notes[-1]}", file=sys.stderr)
    now = result.metrics.get("macro_f1")
    if isinstance(serving, float) and isinstance(now, float) and now < serving:
        evals = [registry.path(name, v) / "eval.csv" for v in (before, result.version)]
        same = all(e.is_file() for e in evals) and evals[0].read_bytes() == evals[1].read_bytes()
        notes.append(f"{result.version} scores macro-F1 {now:.4f}, below {before}'s {serving:.4f} "
                     f"({'on the same test rows' if same else 'each on its own test set'}), and now serves: "
                     f"`verticals models rollback {name}` returns to {before}")
        print(f"note: {notes[-1]}", file=sys.stderr)
    per_class = result.metrics.pop("per_class", {})
    result.metrics.pop("confusion", None)
    result.metrics.pop("labels", None)
    emit({"name": result.name, "version": result.version, **result.metrics,
          **({"per_class": per_class} if as_json else {}),
          **({"notes": notes} if notes and as_json else {})}, as_json)  # on a terminal: stderr's, once
    if not as_json and per_class:  # on stdout with the rest of the result, not among the progress bars
        print(_per_class_table(per_class))


def _per_class_table(per_class: dict) -> str:
    lines = [f"{'label':<32} {'prec':>6} {'recall':>6} {'f1':>6} {'n':>5}"]
    for label, m in per_class.items():
        lines.append(f"{label[:32]:<32} {m['precision']:6.3f} {m['recall']:6.3f} {m['f1']:6.3f} {m['support']:5d}")
    return "\n".join(lines)


@finetune_app.command("mlm")
def mlm(
    corpus: Annotated[Path, typer.Option(help="Unlabelled text: .txt (one per line) or a table with --text-col.")],
    name: str = typer.Option(..., help="Registry name of the adapted encoder."),
    base: str = "minilm", epochs: int = 1, max_length: int = 64, batch_size: int = 32,
    text_col: Annotated[str, typer.Option(help="The text column of a table --corpus.")] = "text",
    layers: Annotated[int | None, typer.Option(help="Keep only the base's first N layers (smaller, faster).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Domain-adaptive masked-LM pretraining; then `finetune classify --base NAME` starts from it.

    Held-out perplexities: before (the base with a fresh masked-LM head), base_encoder (the head
    trained, the encoder untouched: the fair baseline) and after (both adapted); lower is better."""
    from .data import read_texts
    from .pretrain import pretrain_mlm
    from .registry import get_registry

    version = pretrain_mlm(read_texts(corpus, text_col, "--text-col"), name=name, base=base, epochs=epochs,
                           max_length=max_length, batch_size=batch_size, layers=layers)
    metrics = get_registry().card(name, version).get("metrics", {})
    notes = ["no held-out token was masked (too little text): no perplexity to report — add text"] \
        if metrics.get("perplexity_after") is None else \
        [f"only {metrics['n_heldout_texts']} held-out text(s): the perplexities are a rough guide"] \
        if metrics.get("n_heldout_texts", 20) < 20 else []
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if not as_json:
        print("perplexity: before = fresh masked-LM head; base_encoder = head trained, encoder untouched "
              "(the baseline); after = adapted. Lower is better.", file=sys.stderr)
    emit({"name": name, "version": version, **metrics, **({"notes": notes} if notes and as_json else {})}, as_json)


@finetune_app.command("contrastive")
def contrastive(
    pairs: Annotated[Path, typer.Option(help="CSV with query,positive columns (or as named below).")],
    name: str = typer.Option(..., help="Registry name of the tuned bi-encoder."),
    base: str = "minilm", epochs: int = 1, batch_size: int = 32,
    query_col: Annotated[str, typer.Option(help="The query column of --pairs.")] = "query",
    positive_col: Annotated[str, typer.Option(help="The positive (passage) column of --pairs.")] = "positive",
    layers: Annotated[int | None, typer.Option(help="Keep only the base's first N layers (smaller, faster).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Bi-encoder tuning with in-batch negatives on (query, positive) pairs."""
    from .contrastive import train_biencoder
    from .data import read_table
    from .registry import get_registry

    frame = read_table(pairs, [query_col, positive_col], column_flags="--query-col/--positive-col")
    version = train_biencoder(list(zip(frame[query_col], frame[positive_col])), name=name, base=base,
                              epochs=epochs, batch_size=batch_size, source=pairs, layers=layers)
    metrics = get_registry().card(name, version).get("metrics", {})
    notes = contrastive_notes(metrics)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    emit({"name": name, "version": version, **metrics, **({"notes": notes} if notes and as_json else {})}, as_json)


def contrastive_notes(metrics: dict) -> list[str]:
    """What makes a bi-encoder's held-out recall and MRR say less than they seem: too few pairs,
    or a test the base already passes.

    >>> contrastive_notes({"n_heldout_pairs": 20, "recall_at_1_before": 1.0})[0][:30]
    'the base already ranks 100% of'
    """
    held = metrics.get("n_heldout_pairs", 20)
    # with 2 held-out pairs, recall@1 is a coin toss between 2 candidates: 1.0 said nothing
    notes = [f"only {held} held-out pair(s), each query ranked among at most {held} passages: the recall and "
             "MRR are a rough guide"] if held < 20 else []
    # subtle: 1.0000 before and after on 20 Bitext pairs said nothing of what tuning did
    if (before := metrics.get("recall_at_1_before")) is not None and before >= 0.95:
        notes.append(f"the base already ranks {before:.0%} of the held-out queries' passages first: too easy a "
                     "test to show what tuning adds — more pairs, or passages alike, make a harder one")
    return notes


@finetune_app.command("retrain")
def retrain_cmd(
    name: str, data: Annotated[Path, typer.Option(help="New labelled rows (text,label).")],
    text_col: Annotated[str | None, typer.Option(
        help="Text column of --data (default: the one NAME was trained from, else text).")] = None,
    label_col: Annotated[str | None, typer.Option(
        help="Label column of --data (default: the one NAME was trained from, else label).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Retrain NAME on old + new data with its card's recipe; promote only if not worse."""
    from .data import read_labelled
    from .registry import get_registry
    from .retraining import retrain

    registry = get_registry()
    current = registry.current(name)
    columns = registry.card(name, current).get("columns", {}) if current else {}
    text_col, label_col = text_col or columns.get("text", "text"), label_col or columns.get("label", "label")
    report = retrain(name, read_labelled(data, text_col, label_col, min_classes=1, column_flags=COLUMN_FLAGS))
    emit(report.to_dict(), as_json)  # the schema `verticals finance retrain` prints too


def _mount_apps() -> None:
    for entry in entry_points(group="verticals.apps"):
        try:
            app.add_typer(entry.load(), name=entry.name)
        except (ImportError, AttributeError) as err:  # an app mid-install must not break the core CLI
            print(f"warning: app {entry.name!r} unavailable: {err}", file=sys.stderr)
    _one_line_summaries(app)


def _one_line_summaries(group: typer.Typer) -> None:
    """Each command's summary in its group's list: its docstring's first paragraph as one line.
    subtle: typer's rich help kept the docstring's line breaks there ("fit the ranker on a" /
    "later period" in two rows)."""
    for command in group.registered_commands:
        doc = command.help or (command.callback.__doc__ if command.callback else None) or ""
        if command.short_help is None and doc:
            command.short_help = " ".join(inspect.cleandoc(doc).split("\n\n")[0].split())
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            _one_line_summaries(sub.typer_instance)


def main() -> None:
    """Entry point: run the CLI, turning user errors into one line and exit code 1 (and, under
    ``--json``, into ``{"error": ...}`` on stdout). SIGTERM
    (what cron, systemd and Kubernetes stop a job with) stops a command as Ctrl-C does, saying
    so; its exit code is 143.

    subtle: SIGTERM's default ended a batch job without a word, though a rerun resumed it."""
    _mount_apps()
    terminated = []

    def on_sigterm(_signum: int, _frame: object) -> None:
        terminated.append(True)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)  # a command that handles it (finance run) sets its own
    try:
        app()
    except VerticalsError as err:
        say_error(err)
        sys.exit(1)
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        sys.exit(143 if terminated else 130)
    except SystemExit as done:
        if done.code == 130:  # Ctrl-C inside a command: typer exits 130 without a word
            print(INTERRUPTED, file=sys.stderr)
            sys.exit(143 if terminated else 130)
        raise
