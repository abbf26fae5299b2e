"""``verticals recommend ...``: train, score, evaluate, CTR scorer, demo, dashboard, schedule."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from shared.cli import Address, open_dashboard
from shared.errors import DataError, VerticalsError, first_few
from shared.output import JsonFlag, emit

app = typer.Typer(help="Recommender: text interest scorer, reranking, batch scoring.",
                  no_args_is_help=True)

DEMO = Path(__file__).resolve().parents[2] / "datasets" / "recommender"
Items = Annotated[Path, typer.Option(help="Items table (.csv, .jsonl or .parquet): columns item_id, title, and "
                                             "optionally description, category.")]
Interactions = Annotated[Path, typer.Option(
    help="Interactions table (.csv, .jsonl or .parquet): columns user_id, item_id, label (1 taken, 0 shown "
         "only), and optionally timestamp (Unix seconds or ISO 8601).")]
Prefix = Annotated[str, typer.Option(help="Registry prefix of the three models.")]


def check_file(path: Path) -> None:
    """The one-line error reading the file would give (``nope.csv: file not found — check the
    path``), for a command that only passes the path on."""
    if not path.exists():
        raise DataError(path, None, "file not found", "check the path")
    if path.is_dir():
        raise DataError(path, None, "is a directory, expected a file", "pass a CSV file")


def _service(items: Path, interactions: Path, prefix: str):
    from .service import RecommenderService

    return RecommenderService(items, interactions, prefix)


@app.command()
def train(items: Items, interactions: Interactions, prefix: Prefix = "rec",
          epochs: Annotated[int, typer.Option(help="Passes over its pairs in tuning each text model.")] = 1,
          max_length: Annotated[int, typer.Option(
              help="Tokens the text models read of each profile or item text (the cross-encoder's too, unless "
                   "--cross-max-length).")] = 128,
          val_fraction: Annotated[float, typer.Option(
              help="The last share of each user's history (by time, else in file order; 0.05-0.5) held out from "
                   "the text models to fit and measure the ranker on.")] = 0.2,
          max_pairs: Annotated[int, typer.Option(
              help="At most this many pairs tune each text model.")] = 3000,
          ranker_rows: Annotated[int, typer.Option(
              help="At most this many (user, candidate) rows fit the ranker, each read once by "
                   "the cross-encoder.")] = 15_000,
          cross_max_length: Annotated[int | None, typer.Option(
              help="Tokens the cross-encoder reads per pair (default: --max-length).")] = None,
          cross_layers: Annotated[int, typer.Option(
              help="Keep the base's first N layers in the cross-encoder (fewer: faster scoring).")] = 2,
          cross_attention: Annotated[str, typer.Option(
              help="one-way: the cross-encoder reads a profile once for all its items; both: "
                   "it reads each (profile, item) pair whole (slower).")] = "one-way",
          as_json: JsonFlag = False) -> None:
    """Tune the bi-encoder and cross-encoder, export their fast CPU forms, fit the ranker on a
    later period, register all."""
    from .scoring import TextConfig
    from .training import TrainConfig

    text = TextConfig(epochs=epochs, bi_max_length=max_length,
                      cross_max_length=cross_max_length or max_length, cross_layers=cross_layers,
                      cross_attention=cross_attention, max_pairs=max_pairs, max_cross=max_pairs)
    config = TrainConfig(prefix=prefix, val_fraction=val_fraction, text=text, ranker_rows=ranker_rows)
    emit(_service(items, interactions, prefix).train(config), as_json)


class Engine(StrEnum):  # checked before anything is read, as a choice (it had been checked after the models)
    LOCAL = "local"
    RAY = "ray"


class Layout(StrEnum):
    MOVIELENS = "movielens"
    MIND = "mind"
    TALLREC = "tallrec"


@app.command()
def convert(layout: Annotated[Layout, typer.Argument(help="movielens (movies.csv, ratings.csv[, tags.csv]), mind "
                                                          "(news.tsv, behaviors.tsv) or tallrec (a JSON file).")],
            folder: Annotated[Path, typer.Argument(help="The folder holding the public files (tallrec: the JSON "
                                                        "file).")],
            out: Annotated[Path, typer.Option(help="Folder to write items.csv and interactions.csv into.")],
            min_rating: Annotated[float, typer.Option(help="MovieLens: ratings from this one are taken (label 1), "
                                                           "lower ones shown only (0).")] = 4.0,
            overwrite: Annotated[bool, typer.Option(
                help="Replace items.csv and interactions.csv if --out already holds them.")] = False,
            as_json: JsonFlag = False) -> None:
    """A public dataset's folder -> items.csv and interactions.csv for `train`, `score` and `eval`."""
    from .data import write_dataset
    from .layouts import load_mind, load_movielens
    from .tallrec import load_tallrec, tallrec_dataset

    if layout is Layout.TALLREC:
        # users are the file's examples: named by the file, so a train and a test file's differ
        items, interactions = tallrec_dataset(load_tallrec(folder), prefix=f"{folder.stem}-")
    elif not folder.is_dir():
        raise DataError(folder, None, "is not a folder" if folder.exists() else "folder not found",
                        f"pass the {layout.value} folder")
    else:
        items, interactions = load_movielens(folder, min_rating) if layout is Layout.MOVIELENS else load_mind(folder)
    items_path, interactions_path = write_dataset(items, interactions, out, overwrite)
    result = {"items": str(items_path), "interactions": str(interactions_path), "item_rows": len(items),
              "interaction_rows": len(interactions), "taken": int(interactions["label"].sum()),
              "users": int(interactions["user_id"].nunique())}
    if interactions.attrs.get("unknown_items"):
        result["dropped_unknown_items"] = interactions.attrs["unknown_items"]
    emit(result, as_json)
    if not as_json:
        print(f"next: verticals recommend train --items {items_path} --interactions {interactions_path}")


@app.command()
def score(items: Items, interactions: Interactions,
          out: Annotated[Path, typer.Option(help="Output .parquet or .csv (must not exist).")],
          candidates: Annotated[Path | None, typer.Option(
              help="Table (.csv, .jsonl or .parquet) of user_id,item_id pairs to score.")] = None,
          top_k: Annotated[int | None, typer.Option(help="Rank the catalogue, keep K.")] = None,
          engine: Annotated[Engine, typer.Option(help="local, or ray (Ray Data; `pip install 'verticals\\[ray]'`).")]
          = Engine.LOCAL,
          chunk_size: Annotated[int, typer.Option(help="Users per chunk.")] = 200,
          pool: Annotated[int | None, typer.Option(
              help="With --top-k: candidates reranked per user (default 4 x K); more finds more "
                   "of the whole catalogue's best, at a cost linear in the pool.")] = None,
          explain: Annotated[bool, typer.Option(
              help="Add each score's breakdown and reason: baseline, text_interest, other_features "
                   "(logit(score) = their sum) and because.")] = False,
          overwrite: Annotated[bool, typer.Option(
              help="Replace --out if it exists (kept until the new file is whole; a stopped run's parts "
                   "beside it are reused). A stopped run with no --out yet resumes without it.")] = False,
          prefix: Prefix = "rec", as_json: JsonFlag = False) -> None:
    """Batch scoring to user_id,item_id,score,rank; rerun after a crash to resume."""
    result = _service(items, interactions, prefix).score(
        out, candidates, top_k, engine=engine.value, chunk_size=chunk_size, overwrite=overwrite, pool=pool,
        explain=explain)
    emit({"out": str(result.out), "rows": result.rows, "chunks": result.chunks,
          "resumed_chunks": result.skipped, "cold_start_users": result.cold_start,
          "cold_start_first": result.cold_start_ids[:5]}
         | ({"fewer_than_top_k_users": len(result.short_ids), "fewer_than_top_k_first": result.short_ids[:5]}
            if top_k is not None else {}), as_json)


@app.command("eval")
def evaluate(items: Items, train: Annotated[Path, typer.Option(
                 help="The interactions the models were trained on (`recommend train`).")],
             test: Annotated[Path, typer.Option(help="Later interactions to predict.")],
             prefix: Prefix = "rec",
             n_candidates: Annotated[int, typer.Option(
                 help="Candidates ranked per test user.")] = 50,
             as_json: JsonFlag = False) -> None:
    """AUC, MRR, nDCG@10, HR@10 of the trained models (`recommend train` on --train first)
    beside popularity, untuned MiniLM and co-taken baselines."""
    import sys

    from shared import file_digest, fingerprint

    from .data import read_interactions
    from .evaluation import evaluate_ranking
    from .service import DEMO_PREFIX

    if n_candidates < 10:  # fewer, and the model's top 10 is short while the baselines' are whole
        raise VerticalsError(f"--n-candidates must be at least 10 (the k of nDCG@10 and HR@10), got {n_candidates}")
    service = _service(items, train, prefix)
    test_rows = read_interactions(test, service.items)
    result = evaluate_ranking(service.pipeline(), test_rows, n_candidates=n_candidates)
    if left_out := result["users_without_history"]:
        print(f"note: {left_out} test users with a positive have taken nothing in --train and are left out "
              f"({first_few(result['users_without_history_first'], left_out, 5)}): ranking needs a taken item",
              file=sys.stderr)
    if all_seen := result["users_all_seen"]:
        print(f"note: {all_seen} test users with a positive were shown or took each of its items in --train already "
              f"and are left out ({first_few(result['users_all_seen_first'], all_seen, 5)}): a user is never offered "
              "an item again", file=sys.stderr)
    if result["test_positives_seen_in_train"]:
        print(f"note: {result['test_positives_seen_in_train']} positive test rows pair a user with an item --train "
              "already shows them and are left out: a user is never offered those again", file=sys.stderr)
    # subtle: eval does not train; models trained on a file that holds the test rows score
    # far above what they would on unseen data (a review: nDCG@10 0.525 against 0.414)
    result["models_trained_on_train"] = service.ranker_card().get("data_fingerprint") == \
        fingerprint([file_digest(items), file_digest(train)])
    if not result["models_trained_on_train"]:
        # subtle: the demo's models are never retrained by a user's `train`; advising
        # `--prefix demo` would have replaced them
        own = "rec" if prefix == DEMO_PREFIX else prefix
        # subtle: printed apart, it was missing from the JSON's "warning", where scripts look
        leak = (f"the {prefix} models were not trained on --items/--train; if their data held --test rows, "
                f"these figures are not held out — run `verticals recommend train --items {items} "
                f"--interactions {train} --prefix {own}` first" + (f", then eval with --prefix {own}"
                                                                   if own != prefix else ""))
        result["warning"] = "; ".join(w for w in (leak, result.get("warning")) if w)
    if as_json and result.get("warning"):  # without --json, emit prints it with the figures
        print(f"warning: {result['warning']}", file=sys.stderr)
    emit(result, as_json)


@app.command("train-ctr")
def train_ctr(items: Items, interactions: Interactions,
              name: Annotated[str, typer.Option(help="Registry name of the scorer.")] = "rec-ctr-base",
              examples: Annotated[int, typer.Option(min=1, help="Questions to sample.")] = 8000,
              history: Annotated[int, typer.Option(min=0, help="Interactions before each question.")] = 10,
              base: str = "minilm", epochs: int = 1, max_length: int = 192,
              as_json: JsonFlag = False) -> None:
    """Teach the interest scorer TALLRec-style questions built from your interactions, as a
    start model for `eval-ctr --base NAME` (e.g. MovieLens before the TALLRec movie set)."""
    from shared import get_registry

    from .data import read_interactions, read_items
    from .profiles import ctr_examples
    from .scoring import train_ctr_scorer

    catalogue = read_items(items)
    questions = ctr_examples(read_interactions(interactions, catalogue), catalogue, history,
                             examples)
    if not questions:
        raise VerticalsError(f"{interactions}: no user has more than {history} interactions — "
                             "lower --history or add data")
    version = train_ctr_scorer(questions, name, base=base, test_fraction=0.1, epochs=epochs,
                               max_length=max_length)
    # the shape every trainer prints (name, version, metrics), plus how many questions it read
    emit({"name": name, "version": version, "examples": len(questions),
          **get_registry().card(name, version).get("metrics", {})}, as_json)


@app.command("eval-ctr")
def eval_ctr(train: Annotated[Path, typer.Option(help="TALLRec JSON to fine-tune on.")],
             test: Annotated[Path, typer.Option(help="TALLRec JSON to score.")],
             base: Annotated[str, typer.Option(help="Start model (e.g. rec-interest).")] = "minilm",
             name: str = "rec-ctr", epochs: int = 3, max_length: int = 256,
             items: Annotated[Path | None, typer.Option(
                 help="Items table of another interaction log over the same titles.")] = None,
             interactions: Annotated[Path | None, typer.Option(
                 help="That log: each target's like share and popularity in it become "
                      "features.")] = None,
             as_json: JsonFlag = False) -> None:
    """Fine-tune the interest scorer on TALLRec-style A.json, print AUC on B.json."""
    from .data import read_interactions, read_items
    from .evaluation import evaluate_ctr
    from .features import title_priors
    from .tallrec import check_both_answers, load_tallrec

    if (items is None) != (interactions is None):
        raise VerticalsError("--items and --interactions go together: the log's items name the "
                             "titles its interactions refer to")
    train_set, test_set = load_tallrec(train), load_tallrec(test)
    check_both_answers(train_set, train)
    check_both_answers(test_set, test)
    priors = None
    if items is not None and interactions is not None:
        catalogue = read_items(items)
        priors = title_priors(catalogue, read_interactions(interactions, catalogue))
    emit(evaluate_ctr(train_set, test_set, name, base=base, epochs=epochs,
                      max_length=max_length, priors=priors), as_json)


@app.command()
def demo(force: Annotated[bool, typer.Option(help="Retrain even if models exist.")] = False,
         as_json: JsonFlag = False) -> None:
    """Prepare the demo: train on datasets/recommender once, then score top-10 for every user."""
    from .demo import demo_setup

    emit(demo_setup(DEMO / "items.csv", DEMO / "interactions.csv", force=force), as_json)


@app.command()
def dashboard(port: int = 8503,
              items: Annotated[Path | None, typer.Option(
                  help="Items table (default: the demo's, with its models).")] = None,
              interactions: Annotated[Path | None, typer.Option(
                  help="Interactions table; goes with --items.")] = None,
              prefix: Annotated[str | None, typer.Option(
                  help="Registry prefix of the models (default: rec with your files, demo "
                       "without).")] = None,
              scores: Annotated[Path | None, typer.Option(
                  help="A `recommend score` output to show beside each user's list (default: "
                       "the demo's on the demo data; none with your files).")] = None,
              address: Address = "127.0.0.1") -> None:
    """Open the recommender dashboard (streamlit run) on the demo data or on your files."""
    if (items is None) != (interactions is None):
        raise VerticalsError("--items and --interactions go together: the dashboard reads the "
                             "catalogue and the interactions that refer to it")
    for path in (items, interactions, scores):  # before the browser opens, as every command says it
        if path is not None:
            check_file(path)
    # the dashboard reads its inputs from these (a streamlit script takes no options of its own)
    chosen = {"VERTICALS_REC_ITEMS": items and items.resolve(),
              "VERTICALS_REC_INTERACTIONS": interactions and interactions.resolve(),
              "VERTICALS_REC_PREFIX": prefix, "VERTICALS_REC_SCORES": scores and scores.resolve()}
    open_dashboard(Path(__file__).with_name("dashboard.py"), port,
                   {key: str(value) for key, value in chosen.items() if value}, address)


@app.command()
def schedule(items: Items, interactions: Interactions,
             out_dir: Annotated[Path, typer.Option(help="Folder for dated score files.")],
             hour: Annotated[int, typer.Option(min=0, max=23, help="Hour (UTC).")] = 2,
             minute: Annotated[int, typer.Option(min=0, max=59, help="Minute of that hour.")] = 0,
             top_k: Annotated[int, typer.Option(
                 help="Items kept per user in each run's file, as `score --top-k`.")] = 20,
             prefix: Prefix = "rec",
             pool: Annotated[int | None, typer.Option(
                 help="Candidates reranked per user (default 4 x --top-k), as for `score`.")] = None,
             once: Annotated[bool, typer.Option(help="Run the job now and exit.")] = False) -> None:
    """Score every user's top-k nightly with APScheduler (foreground; Ctrl-C stops)."""
    from .batch import writable_folder
    from .schedule import check_inputs, score_today, start_scheduler
    from .service import check_top_k

    writable_folder(out_dir, "--out-dir")  # now, not at 02:00 inside the job
    if once:
        print(score_today(str(items), str(interactions), str(out_dir), top_k, prefix, pool))
        return
    check_top_k(top_k, pool)
    for path in (items, interactions):  # now, not at 02:00 inside the job
        check_file(path)
    check_inputs(items, interactions, prefix)  # each row, as `score` reads them, and the models
    start_scheduler(items, interactions, out_dir, hour, minute, top_k, prefix, pool)
