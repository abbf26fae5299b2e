"""Finance monitor dashboard: alerts, trends, articles, source health, models, corrections.

Runs alone (``verticals finance dashboard``) and as a page of the suite's app. Scraped text is
only ever shown through ``st.dataframe`` / ``st.text`` / ``st.code``: escaped, never as HTML.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from apps.finance_monitor.classify import SENTIMENTS
from apps.finance_monitor.config import default_config_path, home_config_path, load_config
from apps.finance_monitor.corrections import corrections_frame
from apps.finance_monitor.health import health_frame, webhook_health
from apps.finance_monitor.service import FinanceService
from apps.finance_monitor.views import (
    ARTICLE_LIMIT,
    MEASURES,
    AlertView,
    alerts,
    article,
    articles_frame,
    count_articles,
    open_alert_keys,
    sources,
    topics,
    trend_chart,
    trend_keys,
    trends_frame,
)
from shared import VerticalsError
from shared.output import count_of
from shared.ui import explanation_text, markdown_text, page_title, show_model_card

ALERTS_POLL_S = 30  # the Alerts tab looks for new alerts this often by itself
ARTICLE_TABLE = {  # what the article table shows first on a narrow screen, and how
    "title": st.column_config.TextColumn("title", width="large"),
    "topic": "topic", "sentiment": "sentiment",
    "score": st.column_config.NumberColumn("score", format="%+.2f", help="The sentiment model's net score, "
                                           "-1 negative to +1 positive; blank where an analyst set the sentiment"),
    "published": st.column_config.DatetimeColumn("published (UTC)", format="YYYY-MM-DD HH:mm"),
    "source": "source", "tickers": "tickers",
    "duplicates": st.column_config.NumberColumn("also told", help="How many other URLs told the same story "
                                                "(counted once here): the details name them"),
    "url": st.column_config.LinkColumn("link", display_text="open"), "id": "id"}
# readable names for the health tables' columns (the frames keep theirs: tests and the CLI's
# JSON read them); subtle: "failures_in_a_row" read "fa…" at 1400 px, and "last_error" as code
HEALTH_TABLE = {
    "in_config": st.column_config.CheckboxColumn("in config", help="Whether the config polls it; the others' "
                                                 "history remains"),
    "last_success": "last success (UTC)", "last_error_at": "last error at (UTC)", "last_error": "last error",
    "note": st.column_config.TextColumn("note", help="The last poll worked, but: entries skipped, or dated when "
                                        "fetched"),
    "failures_in_a_row": st.column_config.NumberColumn("failures in a row", width=140),
    "new_last_poll": "new, last poll", "new_total": "new, in all"}
WEBHOOK_TABLE = {"in_config": HEALTH_TABLE["in_config"], "last_delivered": "last delivered (UTC)",
                 "last_error": "last error", "next_attempt": "next attempt (UTC)"}
DRIVING = st.column_config.TextColumn("driving", help="The sentences that drove the sentiment, "
                                      "when more than the title: blank when the title did.")


@st.cache_resource
def get_service(path: str) -> FinanceService:
    return FinanceService(load_config(path))


@st.fragment(run_every=ALERTS_POLL_S)
def show_alerts(service: FinanceService) -> None:
    """Open alerts (acknowledged ones too on demand); looks for new ones every
    ``ALERTS_POLL_S`` seconds by itself, the page being one people watch."""
    if notice := st.session_state.pop("alert-notice", None):
        st.toast(notice)
    left, right = st.columns([1, 2])
    show_all = left.toggle("Show acknowledged", key="alerts-all")
    right.text_input("Acknowledge as", key="ack-by", placeholder="your name (else: dashboard)")
    found = alerts(service.engine, include_acknowledged=show_all, companies=service.config.tickers)
    if not found:
        st.info(f"No open alerts. Surges of negative news appear here with their articles (checked every "
                f"{ALERTS_POLL_S} s).")
        return
    config = service.config.alerts
    st.caption(f"baseline: the median count of negative articles per {config.window_hours:g}-hour "
               f"window over the {config.baseline_windows} windows before; z: how far above that "
               f"baseline the window is, in robust standard deviations, never taken below the "
               f"count's own chance spread, √baseline or 1 (so over a baseline of 0, z is the "
               f"count itself; an alert needs z ≥ {config.z_threshold:g}).")
    for alert in found:
        show_alert(service, alert)


def show_alert(service: FinanceService, alert: AlertView) -> None:
    with st.container(border=True):
        state = f" ({alert.state})" if alert.acknowledged else ""
        st.text(f"#{alert.id} {alert.label}: {alert.negatives} negative of {alert.total} articles, "
                f"{alert.window_start} to {alert.window_end} UTC "
                f"(baseline {alert.baseline:g}, z = {alert.score:.1f}), raised {alert.raised_at} UTC{state}")
        if alert.grew_from is not None:
            st.caption(f"{alert.growth_note[:1].upper()}{alert.growth_note[1:]}.")  # not .capitalize(): "Alice"
        if alert.announced_note:
            st.caption(f"{alert.announced_note.capitalize()}.")
        if alert.corrected:
            st.caption(f"{alert.correction_note.capitalize()}: see each article's sentiment now.")
        if alert.went_on:
            st.caption(f"{alert.went_on_note[:1].upper()}{alert.went_on_note[1:]}.")
        # "driving" only where some article's verdict came from sentences beyond its title
        # the article id: what the Corrections tab takes for a driver the model got wrong
        columns = [c for c in ("id", "published", "title", "sentiment", "source", "driving", "url")
                   if (c != "sentiment" or alert.corrected)  # all negative as raised: said once corrected
                   and (c != "driving" or any(a["driving"] for a in alert.articles))]
        st.dataframe([{k: a[k] for k in columns} for a in alert.articles], hide_index=True, width="stretch",
                     column_config={"published": ARTICLE_TABLE["published"], "driving": DRIVING,
                                    "url": ARTICLE_TABLE["url"]})
        if not alert.acknowledged and st.button("Acknowledge", key=f"ack-{alert.id}"):
            if service.acknowledge(alert.id, by=st.session_state.get("ack-by", "").strip() or "dashboard"):
                st.session_state["alert-notice"] = (f"Alert #{alert.id} acknowledged: turn on "
                                                    "\"Show acknowledged\" to see it again.")
            st.rerun()


@st.cache_data(max_entries=4, show_spinner=False)
def trend_tables(_service: FinanceService, stamp: tuple) -> dict[str, pd.DataFrame]:
    """The trend rows of each kind, recomputed only when ``stamp`` (what they depend on,
    :meth:`FinanceService.trends_stamp`) changes. subtle: every click reruns every tab, and at
    150k articles the trends took 2.4 s each time."""
    stats = _service.trends()
    return {kind: trends_frame(stats, kind) for kind in ("topic", "ticker")}


def show_trends(service: FinanceService) -> None:
    tables = trend_tables(service, service.trends_stamp())
    kind = st.radio("Group by", ["topic", "ticker"], horizontal=True, key="trend-kind")
    metric = st.selectbox("Measure", list(MEASURES), format_func=MEASURES.get, key="trend-metric",
                          help="Net sentiment: (positive articles - negative ones) / articles, -1 to +1.")
    frame = tables[kind]
    if frame.empty:
        st.info("No classified article mentions a ticker yet." if kind == "ticker"
                and not tables["topic"].empty else "No classified articles yet.")
        return
    keys = sorted(frame["key"].unique())
    alerted = open_alert_keys(service.engine, kind)
    default = trend_keys(frame, kind, alerted)
    # subtle: one key per kind; a shared key kept the topics chosen before as the ticker
    # choice, which matches no ticker, so the ticker chart opened empty
    widget = f"trend-keys-{kind}"
    # subtle: Streamlit forgets the state of a widget a run does not draw, so the topics chosen
    # came back as they opened after a look at the tickers: the choice is kept beside it too
    if widget not in st.session_state and f"{widget}-kept" in st.session_state:
        # none of them left (a topic renamed by a retrain): opened as new, below
        if kept := [k for k in st.session_state[f"{widget}-kept"] if k in keys]:
            st.session_state[widget] = kept
    offered = st.session_state.get(f"{widget}-offered")
    untouched = offered is not None and st.session_state.get(widget) == offered[1]
    if widget not in st.session_state or (untouched and offered != (keys, default)):
        # subtle: a keyed multiselect keeps its value when its options change, so a new topic
        # or a newly alerted ticker never joined a choice left as it opened: it follows
        st.session_state[widget] = default
    st.session_state[f"{widget}-offered"] = (keys, default)
    chosen = st.multiselect(kind.capitalize(), keys, key=widget,
                            help="Opens on those with open alerts, then the most negative.")
    st.session_state[f"{widget}-kept"] = chosen
    if not chosen:  # subtle: an empty chart drew a "0.000000" axis and nothing else
        st.info(f"Pick one or more {'tickers' if kind == 'ticker' else 'topics'} above to chart them.")
        return
    st.altair_chart(trend_chart(frame[frame["key"].isin(chosen)], kind, metric), width="stretch")


def show_articles(service: FinanceService) -> None:
    columns = st.columns(4)
    topic = columns[0].selectbox("Topic", ["(any)"] + topics(service.engine), key="f-topic")
    sentiment = columns[1].selectbox("Sentiment", ["(any)", *SENTIMENTS], key="f-sentiment")
    named = sorted({s.name for s in service.config.sources} | set(sources(service.engine)))  # gone ones too
    source = columns[2].selectbox("Source", ["(any)", *named], key="f-source")
    search = columns[3].text_input("Search", key="f-search")
    filters = {"topic": None if topic == "(any)" else topic,
               "sentiment": None if sentiment == "(any)" else sentiment,
               "source": None if source == "(any)" else source, "search": search or None}
    frame = articles_frame(service.engine, **filters)
    # counted only when the list may be cut at its limit: otherwise it is all there is
    total = count_articles(service.engine, **filters) if len(frame) >= ARTICLE_LIMIT else len(frame)
    st.caption(f"the newest {len(frame)} of {total} articles" if total > len(frame)
               else count_of(total, "article"))
    st.dataframe(frame, hide_index=True, width="stretch", column_order=list(ARTICLE_TABLE),
                 column_config=ARTICLE_TABLE)
    if frame.empty:
        # subtle: the Corrections tab offered the article detailed before the filter emptied the list
        st.session_state.pop("f-detail", None)
    else:
        titles = dict(zip(frame["id"].tolist(), frame["title"], strict=True))
        chosen = st.selectbox("Details of article", list(titles), key="f-detail",
                              format_func=lambda i: option_label(i, titles[i]))
        found = article(service.engine, int(chosen))
        show_article(found)
        if found["backlog"]:
            st.caption("From its source's first poll, with no date the source gave: dated when fetched, it may be "
                       "old, so trends and alerts leave it out until another source tells it again.")
        for other in found["also"]:  # the same story from other URLs, counted once
            headline = f" as {other['title']!r}" if other["title"] else ""
            st.text(f"also told by {other['source']} ({TOLD[other['reason']]}){headline}: {other['url']}")
        # as prose, escaped: scraped text never renders as Markdown or HTML (it read as code)
        if found["text"]:
            st.markdown(markdown_text(found["text"]))
        else:
            st.caption("(headline only)")
        if found["driving"]:  # none for a neutral verdict
            # an analyst's label overrules them: they argued for the model's
            said = " (the model's, for the label an analyst overruled)" if "sentiment" in found["corrected"] else ""
            st.text(f"Driving sentences{said}: " + " | ".join(found["driving"]))
        show_words(service, found["driving"][0] if found["driving"] else found["title"])


TOLD = {"same_text": "the same text", "near_dup": "nearly the same words", "reworded": "in other words"}


def show_words(service: FinanceService, sentence: str) -> None:
    """The sentiment model's words behind its verdict on the article's lead sentence (its first
    driving sentence, else its title), as plain text."""
    try:
        label, words = service.explain_sentiment(sentence)
    except VerticalsError as exc:
        st.caption(str(exc))
        return
    st.text(f"Sentiment model on {sentence!r}: {explanation_text(label, words)}")


def option_label(article_id: int, title: str, width: int = 90) -> str:
    """``12 — Bank fined over ...``: a choice a reader can recognise (shown as plain text)."""
    return f"{article_id} — {title if len(title) <= width else title[:width - 1] + '…'}"


def show_article(found: dict) -> None:
    """An article's title and current labels, as plain text."""
    st.text(found["title"])
    if found["topic"] is None and found["sentiment"] is None:
        st.text("not classified yet")
        return
    # subtle: a corrected sentiment's score is the label's (+1.00), which read as a model's
    by_analyst = " (set by an analyst)"
    score = "" if found["score"] is None else f" ({found['score']:+.2f})"
    topic = (found["topic"] or "not classified yet") + (by_analyst if "topic" in found["corrected"] else "")
    sentiment = (found["sentiment"] or "not classified yet") + \
        (by_analyst if "sentiment" in found["corrected"] else score)
    # an analyst may correct one label before the models have read the article
    st.text(f"topic: {topic} · sentiment: {sentiment}")


def show_health(service: FinanceService) -> None:
    frame = health_frame(service.engine, service.config.sources)
    if frame.empty:
        st.info("No sources yet: add [[sources]] to the config (its format heads "
                "apps/finance_monitor/config.py), then run `verticals finance run`.")
    if (stale := frame["state"].str.startswith("stale: ")).any():
        st.warning(f"{stale.sum()} source(s) not polled for three of their intervals: is "
                   "`verticals finance run` running? (`verticals finance demo` starts the demo's)")
    # words for what is missing: no success yet, no error (a grey "None" read as a fault)
    frame["last_success"] = utc_minutes(frame["last_success"], missing="never")
    frame["last_error_at"] = utc_minutes(frame["last_error_at"], missing="")
    # subtle: the numbers that show a source is alive came after its (mostly empty) error columns,
    # past the right edge at 1400 px
    st.dataframe(frame.fillna({"last_error": "", "note": ""}), hide_index=True, width="stretch",
                 column_config=HEALTH_TABLE, column_order=[
                     "source", "in_config", "state", "last_success", "new_last_poll", "new_total", "polls",
                     "failures_in_a_row", "last_error_at", "last_error", "note", "url"])
    hooks = webhook_health(service.engine, service.config.webhooks)
    if hooks.empty:
        return
    st.subheader("Webhooks")
    # subtle: a webhook dropped from the config was called failing and "retried with backoff": its
    # deliveries are held, never tried, until the config names it again
    if (failing := hooks["last_error"].notna() & hooks["in_config"]).any():
        st.warning(f"{failing.sum()} webhook(s) failing: their alerts wait and are retried with backoff.")
    if (held := hooks["waiting"].gt(0) & ~hooks["in_config"]).any():
        st.warning(f"{held.sum()} webhook(s) not in the config: their alerts are held, not sent, until it names "
                   "them again; `verticals finance alerts resend ID` sends an alert to the webhooks configured now.")
    hooks["last_delivered"] = utc_minutes(hooks["last_delivered"], missing="never")
    hooks["next_attempt"] = utc_minutes(hooks["next_attempt"], missing="")
    st.dataframe(hooks.fillna({"last_error": ""}), hide_index=True, width="stretch", column_config=WEBHOOK_TABLE)


def utc_minutes(moments: pd.Series, missing: str) -> list[str]:
    """Times as the rest of the page shows them, to the minute (the column says UTC), and
    ``missing`` for none: ``[2026-03-02 09:00:41, None] -> ["2026-03-02 09:00", missing]``."""
    return [missing if pd.isna(moment) else f"{moment:%Y-%m-%d %H:%M}" for moment in moments]


def show_models(service: FinanceService) -> None:
    cards = service.model_cards()
    if not cards:
        st.info("No models yet: `verticals finance demo` (small demo models, minutes) or `verticals finance train`.")
    for card in cards.values():
        with st.container(border=True):
            show_model_card(card)


def show_corrections(service: FinanceService) -> None:
    st.caption("Corrections become labelled data; the nightly retrain promotes a new model "
               "only if it is not worse on the fixed test set.")
    if notice := st.session_state.pop("correction-notice", None):
        st.success(notice)
    # subtle: after a save the article stays: falling back to the Articles tab's choice, a
    # correction that took the article out of that tab's filter moved this tab to another one.
    # Set before the widget exists: Streamlit refuses a widget's state set after it is made.
    if (saved := st.session_state.pop("c-saved", None)) is not None:
        st.session_state["c-id"] = saved
    # subtle: it opened on article 1, whatever the analyst had been reading
    typed = st.number_input("Article id", min_value=1, step=1, value=None, key="c-id",
                            placeholder="the one detailed in the Articles tab")
    article_id = int(typed) if typed is not None else st.session_state.get("f-detail")
    if article_id is None:
        st.info("Choose an article in the Articles tab, or type its id.")
        found = None
    elif (found := article(service.engine, int(article_id))) is None:
        st.info(f"No article with id {article_id}.")
    else:
        if typed is None:  # the empty field read as "nothing chosen" while the form acted on this one
            st.caption(f"Article {article_id}: the one detailed in the Articles tab (type another id above "
                       "to correct that one instead).")
        elif found["merged_from"] is not None:
            st.caption(f"Article {article_id} was merged into article {found['id']}, the same story told earlier "
                       "by another source: a correction applies to it.")
        show_article(found)
        correct_form(service, found)
    st.dataframe(corrections_frame(service.engine), hide_index=True, width="stretch",
                 column_config={"article_id": "article", "model_said": "the model said",
                                "analyst_says": "the analyst says",
                                "at": st.column_config.DatetimeColumn("at (UTC)", format="YYYY-MM-DD HH:mm")})


def correct_form(service: FinanceService, found: dict) -> None:
    """The label to set opens on the article's own, and saving that changes nothing.

    subtle: one "Correct label" widget for every article kept the last choice (or "negative"),
    so a click on another article saved a label nobody chose over its earlier correction."""
    article_id = found["id"]
    field = st.radio("Field", ["sentiment", "topic"], horizontal=True, key="c-field")
    labels = service.correction_labels(field)
    if not labels:
        st.info("No topic model yet, so no topics to choose from: `verticals finance demo` or "
                "`verticals finance train`.")
        return
    current = found[field]
    with st.form("correct"):
        value = st.selectbox("Correct label", labels, key=f"c-value-{article_id}-{field}",
                             index=labels.index(current) if current in labels else None,
                             placeholder="choose a label")
        if st.form_submit_button("Save correction"):
            if value is None or value == current:
                st.info(f"Article {article_id}'s {field} is already {current}: choose another label."
                        if value else "Choose a label first.")
                return
            try:
                change = service.correct(article_id, field, value, acknowledge="press Acknowledge on the Alerts tab")
            except VerticalsError as exc:
                st.error(str(exc))
                return
            # rerun so the labels shown above are the corrected ones
            st.session_state["correction-notice"] = f"Article {article_id}: {field} set to {value}" + (
                f". Note: {change.note}" if change.note else "")
            st.session_state["c-saved"] = article_id  # the field above shows it after the rerun
            st.rerun()


def main() -> None:
    page_title("Finance monitor")
    path = default_config_path()
    if not path.exists():
        hint = ("Run `verticals finance demo` to create one" if path == home_config_path()
                else "Point VERTICALS_FINANCE_CONFIG at an existing file, or unset it to use the demo's")
        st.info(f"No sources config at {path}. {hint}.")
        st.stop()
    try:
        service = get_service(str(path))
    except VerticalsError as exc:
        st.error(str(exc))
        st.stop()
    st.button("Refresh")
    tabs = st.tabs(["Alerts", "Trends", "Articles", "Sources", "Models", "Corrections"])
    for tab, show in zip(tabs, (show_alerts, show_trends, show_articles, show_health,
                                show_models, show_corrections), strict=True):
        with tab:
            show(service)


main()
