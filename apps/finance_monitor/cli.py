"""``verticals finance ...``: run, poll-once, train, eval, demo, serve-demo-feeds, dashboard, alerts,
articles, sources, correct, retrain.

The commands that show what is stored (``alerts list``, ``articles``, ``trends``, ``sources``)
are in ``cli_views``, registered here in ``--help``'s order; the options they share, and what
they open, in ``cli_options``.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shared import VerticalsError
from shared.cli import Address, ValFraction, open_dashboard
from shared.output import JsonFlag, count_of, emit

from .cli_options import ConfigOpt, config_for, config_path, engine_for, fail
from .cli_views import alerts_list, articles, sources, trends
from .config import EXAMPLE

if TYPE_CHECKING:  # the modules load lazily, so `--help` stays fast
    from .service import FinanceService

app = typer.Typer(help="Finance monitor: feeds -> topic & sentiment -> trends -> surge alerts.",
                  no_args_is_help=True)
alerts_app = typer.Typer(help="List and acknowledge alerts.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")


def _service(path: Path | None) -> FinanceService:
    """The service for ``path``'s config; use it in a ``with`` block, which closes its HTTP
    clients."""
    from .service import FinanceService

    return FinanceService(config_for(path))


PORT_HELP = "The port the demo feeds are served on."
SPEED_HELP = "How many times faster than the clock the demo feeds publish their stories (0: all at once)."


@app.command()
def run(config: ConfigOpt = None,
        demo_feeds: Annotated[bool, typer.Option(help="Also serve the demo feeds.")] = False,
        port: Annotated[int, typer.Option(help=f"With --demo-feeds: {PORT_HELP.lower()}")] = 8765,
        speed: Annotated[float, typer.Option(help=f"With --demo-feeds: {SPEED_HELP.lower()}")] = 1800.0) -> None:
    """Poll every source on its interval until interrupted (persistent job store)."""
    import logging

    from .scheduler import poller_lock, run_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # "Running job ..." and "... executed successfully" for every poll: 4 lines each 10 s
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
    try:
        if not config_for(config).sources:  # it polled nothing, forever, without a word
            typer.echo(f"note: {config_path(config)} names no sources, so this poller polls nothing (it still "
                       f"delivers webhooks and runs the nightly retrain): add [[sources]] entries ({EXAMPLE}) "
                       "and restart it", err=True)
        with poller_lock():  # one poller per home: they would take over each other's jobs
            if demo_feeds:
                from .demo_feeds import DemoFeedServer

                DemoFeedServer(port=port, speed=speed).start()
            run_forever(config_path(config))
    except VerticalsError as exc:
        fail(exc)


@app.command("poll-once")
def poll_once(config: ConfigOpt = None, as_json: JsonFlag = False) -> None:
    """Poll every source once, then classify, raise alerts and deliver webhooks."""
    try:
        with _service(config) as service:
            reports, processed = service.poll_once()
    except VerticalsError as exc:
        return fail(exc)
    # subtle: entries whose URL was stored already were in no count, and a feed's 1,500 entries
    # read "new 1100, duplicates 0"
    result = {"sources": {r.source: {"ok": r.ok, "new": r.ingest.new, "known": r.ingest.same_url,
                                     "duplicates": r.ingest.duplicates,
                                     "bad_links": r.ingest.bad_link,
                                     "other_language": r.ingest.other_language,
                                     "undated": r.ingest.undated, "backlog": r.ingest.backlog,
                                     "not_modified": r.not_modified, "error": r.error,
                                     "note": r.note}
                          for r in reports},
              "classified": processed.classified, "reworded": processed.reworded,
              # ids in JSON; subtle: as text "[2]" read "new_alerts: 2" for one new alert, #2
              "new_alerts": processed.new_alerts if as_json else
              f"{len(processed.new_alerts)}" + (f" (#{', #'.join(map(str, processed.new_alerts))})"
                                                 if processed.new_alerts else ""),
              "models_missing": processed.models_missing,
              "webhooks": asdict(processed.deliveries)}
    emit(result, as_json)
    if not reports:
        typer.echo(f"note: {config_path(config)} names no sources, so nothing was polled: add "
                   f"[[sources]] entries ({EXAMPLE})", err=True)
    for report in reports:  # subtle: "the feed holds no entries: check the url" was said by `sources` alone
        if report.note:
            typer.echo(f"note: {report.source}: {report.note}", err=True)
    for webhook, problem in processed.deliveries.errors.items():
        typer.echo(f"error: webhook {webhook} failed: {problem} (its alerts wait and are retried with backoff; "
                   "`verticals finance sources` lists them)", err=True)
    if processed.deliveries.held:  # subtle: alerts raised while a webhook's URL had a typo waited on it unseen
        typer.echo(f"note: {count_of(processed.deliveries.held, 'delivery', 'deliveries')} wait on webhooks this "
                   "config does not name (held): `verticals finance sources` lists them, and `verticals finance "
                   "alerts resend ID` sends an alert to the webhooks configured now", err=True)
    # subtle: said only in the output's field, then as a warning beside exit 0, a cron job's log
    # showed nothing amiss while no story was judged for alerts
    if processed.models_missing:
        typer.echo(f"error: nothing was classified or judged for alerts: {processed.models_missing}", err=True)
    failed = [r.source for r in reports if not r.ok]
    if failed:  # the pass's other work is done and printed; cron and scripts still need to know
        # an error when it fails the pass (exit 1), else a warning: "error:" beside exit 0 misled
        said = "error" if len(failed) == len(reports) else "warning"
        typer.echo(f"{said}: {len(failed)} of {len(reports)} sources failed ({', '.join(failed)}): "
                   "see each source's error above and check its URL in the sources config", err=True)
    if (reports and len(failed) == len(reports)) or processed.models_missing:
        raise typer.Exit(1)


@app.command()
def train(
    sentiment: Annotated[Path | None, typer.Option(help="CSV text,sentiment (or text,label).")] = None,
    topics: Annotated[Path | None, typer.Option(help="CSV text,topic (or text,label).")] = None,
    test: Annotated[Path | None, typer.Option(help="Test CSV; else a 20% holdout.")] = None,
    epochs: int = 3, max_length: int = 64, batch_size: int = 32, lora: bool = False,
    val_fraction: ValFraction = 0.1,
    adversarial: Annotated[bool, typer.Option(
        help="FGM on the embeddings (about 2x the training time; better on noisy labels).")] = False,
    label_smoothing: Annotated[float, typer.Option(
        help="Spread this share of each target over all classes (for labels people disagree on).")] = 0.0,
    mlm_corpus: Annotated[bool, typer.Option(
        "--mlm", help="Domain-adapt the encoder on the scraped articles first.")] = False,
    layers: Annotated[int | None, typer.Option(
        min=1, help="Keep the base's first N layers (fewer: faster classification, for "
                    "high-volume feeds; some accuracy lost). Default: all.")] = None,
    config: ConfigOpt = None, as_json: JsonFlag = False,
) -> None:
    """Fine-tune the sentiment and/or topic model (defaults: Financial PhraseBank and the Twitter
    financial-news topics from ../shared/datasets, else the bundled demo sets)."""
    from dataclasses import replace

    from shared import TrainConfig
    from shared.finetune import check_layers

    from .training import default_plan, train_models

    try:
        models = _models(config)
        cfg = TrainConfig(epochs=epochs, max_length=max_length, batch_size=batch_size,
                          val_fraction=val_fraction, lora=lora, adversarial=adversarial,
                          label_smoothing=label_smoothing, layers=layers)
        check_layers("minilm", layers)  # both checks before the masked-LM pass
        if mlm_corpus:
            cfg = replace(cfg, base=_mlm_base(config, layers))
        plan, note = default_plan(sentiment, topics, test)
        if note:
            print(f"note: {note}", file=sys.stderr)
        results = train_models(plan, cfg, models)
    except VerticalsError as exc:
        return fail(exc)
    emit({r["name"]: r for r in results}, as_json)


def _models(config: Path | None):
    from .config import ModelConfig, load_config

    path = config_path(config)
    return load_config(path).models if path.exists() else ModelConfig()


def _mlm_base(config: Path | None, layers: int | None = None) -> str:
    """The encoder adapted on the scraped articles, at the depth the models will keep (adapting
    layers the classifiers then drop would only cost time)."""
    from sqlalchemy import select

    from shared import pretrain_mlm, session_scope

    from .sources import article_body
    from .store import Article

    with session_scope(engine_for(config)) as session:
        texts = [article_body(t, x) for t, x in session.execute(select(Article.title, Article.text))]
    if len(texts) < 50:
        raise VerticalsError(f"--mlm needs at least 50 scraped articles, found {len(texts)}")
    pretrain_mlm(texts, "finance-encoder", layers=layers)
    return "finance-encoder"


@app.command("eval")
def evaluate(test: Annotated[Path, typer.Option(help=(
                 "CSV text,sentiment[,topic], or text,label: a label column is read as sentiment "
                 "(negative/neutral/positive), or as topic when the topic model knows its labels."))],
             config: ConfigOpt = None, as_json: JsonFlag = False) -> None:
    """Accuracy and macro-F1 of the current models on a labelled file."""
    from .training import evaluate_models

    try:
        emit(evaluate_models(test, _models(config)), as_json)
    except VerticalsError as exc:
        fail(exc)


@app.command()
def demo(serve: Annotated[bool, typer.Option(
             help="Start the feed server + scheduler in the background.")] = True,
         port: Annotated[int, typer.Option(help=PORT_HELP)] = 8765,
         speed: Annotated[float, typer.Option(help=SPEED_HELP)] = 1800.0, as_json: JsonFlag = False,
         stop: Annotated[bool, typer.Option(
             "--stop", help="Only stop this home's background demo poller (what `make clean` does).")
         ] = False) -> None:
    """Prepare the demo: train small models if missing, write the config, start polling."""
    from .demo import prepare_demo, stop_demo

    try:
        emit({"poller": stop_demo()} if stop else prepare_demo(port=port, speed=speed, serve=serve),
             as_json)
    except VerticalsError as exc:
        fail(exc)


@app.command("serve-demo-feeds")
def serve_demo_feeds(port: int = 8765, speed: Annotated[float, typer.Option(
        min=0, help="Stream seconds per wall-clock second (0: the whole stream at once).")] = 1800.0) -> None:
    """Serve the replayed demo stream as RSS in the foreground (Ctrl-C stops it)."""
    from .demo_feeds import DemoFeedServer

    server = DemoFeedServer(port=port, speed=speed)
    typer.echo(f"serving {', '.join(server.outlets())} at {server.url('/feeds/')}", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:  # a server stopped is no interrupted job: nothing to rerun
        typer.echo("stopped serving the demo feeds", err=True)


@app.command()
def dashboard(config: ConfigOpt = None, port: int = 8504, address: Address = "127.0.0.1") -> None:
    """Open the finance dashboard (`streamlit run`)."""
    if config is not None:  # a --config that is missing or broken is one line here, not a page that says so
        config_for(config)
    open_dashboard(Path(__file__).with_name("dashboard.py"), port,
                   {"VERTICALS_FINANCE_CONFIG": str(config_path(config))}, address)


alerts_app.command("list")(alerts_list)


@alerts_app.command("resend")
def alerts_resend(alert_ids: Annotated[list[int], typer.Argument(help="Alert ids, as `alerts list` shows them.")],
                  config: ConfigOpt = None, as_json: JsonFlag = False) -> None:
    """Send alerts (again) to the webhooks the config names now: those raised while a webhook's
    URL was wrong are held for that URL (`verticals finance sources` lists them)."""
    from .outbox import resend

    try:
        loaded = config_for(config)
        if not loaded.webhooks:
            raise VerticalsError(f"{config_path(config)} names no webhooks: add [[webhooks]] entries ({EXAMPLE})")
        missing = resend(engine_for(config), alert_ids, loaded.webhooks)
        if missing:
            raise VerticalsError(f"no alert {', '.join(f'#{i}' for i in missing)}: `verticals finance alerts list "
                                 "--all` lists them (nothing was resent)" if len(missing) == len(alert_ids) else
                                 f"no alert {', '.join(f'#{i}' for i in missing)}; the others were resent")
    except VerticalsError as exc:
        return fail(exc)
    if as_json:
        return emit({"resent": alert_ids, "webhooks": len(loaded.webhooks)}, as_json)
    typer.echo(f"{', '.join(f'#{i}' for i in alert_ids)} due again for {count_of(len(loaded.webhooks), 'webhook')}: "
               "the poller sends them, or `verticals finance poll-once`")


@alerts_app.command("ack")
def alerts_ack(alert_id: int, config: ConfigOpt = None,
               by: Annotated[str, typer.Option(help="Who acknowledges it (shown beside the alert).")] = "cli",
               as_json: JsonFlag = False) -> None:
    """Acknowledge an alert."""
    from .outbox import acknowledge
    from .views import acknowledgement

    try:
        engine = engine_for(config)
        done = acknowledge(engine, alert_id, by)
    except VerticalsError as exc:
        return fail(exc)
    if not done:
        earlier = acknowledgement(engine, alert_id)
        fail(VerticalsError(f"alert {alert_id} does not exist" if earlier is None else
                            f"alert {alert_id} was acknowledged already, by {earlier[1] or 'someone'} "
                            f"at {earlier[0]:%Y-%m-%d %H:%M} UTC"))
    if as_json:
        emit({"acknowledged": alert_id, "by": by}, as_json)
    else:
        typer.echo(f"acknowledged alert {alert_id}")


TOPIC_HELP = "The article's topic: one of the topic model's labels (others are refused with the list)."


@app.command()
def correct(article_id: int, topic: Annotated[str | None, typer.Option(help=TOPIC_HELP)] = None,
            sentiment: Annotated[str | None, typer.Option(help="negative, neutral or positive.")] = None,
            config: ConfigOpt = None, as_json: JsonFlag = False) -> None:
    """Correct an article's topic and/or sentiment (labelled data for retraining); the ID is
    the one `alerts list` shows before each headline."""
    if not (topic or sentiment):
        fail(VerticalsError("nothing to correct: pass --topic and/or --sentiment"))
    changes = []
    try:
        with _service(config) as service:
            for field, value in (("topic", topic), ("sentiment", sentiment)):
                if value:
                    changes.append(service.correct(article_id, field, value))
                    if not as_json:
                        typer.echo(f"{changes[-1]} (queued for the next retrain)")
                        if changes[-1].note:
                            typer.echo(f"note: {changes[-1].note}", err=True)
    except VerticalsError as exc:
        if as_json and changes:  # the topic was set before the sentiment failed: a script must know
            emit({"changes": [asdict(c) for c in changes], "error": str(exc)}, as_json)
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        fail(exc)
    if as_json:
        emit({"changes": [asdict(c) for c in changes]}, as_json)


# in this order in `--help`: after `correct`, before `retrain`
app.command()(articles)
app.command()(trends)
app.command()(sources)


@app.command()
def retrain(field: Annotated[str, typer.Argument(help="sentiment or topic")],
            config: ConfigOpt = None, as_json: JsonFlag = False) -> None:
    """Retrain a model on the corrections now (promoted only if not worse)."""
    try:
        with _service(config) as service:
            report = service.retrain(field)
        emit(report.to_dict(), as_json)
    except VerticalsError as exc:
        fail(exc)
