"""Finance monitor dashboard: alerts, trends, articles, source health, models, corrections.

Runs alone (``verticals finance dashboard``) and as a page of the suite's app. Scraped text is
only ever shown through ``st.dataframe`` / ``st.text`` / ``st.code``: escaped, never as HTML.
"""

from __future__ import annotations

import streamlit as st

from apps.finance_monitor.classify import SENTIMENTS
from apps.finance_monitor.config import default_config_path, load_config
from apps.finance_monitor.corrections import corrections_frame
from apps.finance_monitor.service import FinanceService
from apps.finance_monitor.views import (
    ARTICLE_LIMIT,
    alerts,
    article,
    articles_frame,
    count_articles,
    health_frame,
    topics,
    trends_frame,
)
from shared import VerticalsError
from shared.ui import show_model_card


@st.cache_resource
def get_service(path: str) -> FinanceService:
    return FinanceService(load_config(path))


def show_alerts(service: FinanceService) -> None:
    open_alerts = alerts(service.engine)
    if not open_alerts:
        st.info("No open alerts. Surges of negative news appear here with their articles.")
    for alert in open_alerts:
        with st.container(border=True):
            st.text(f"{alert.label}: {alert.negatives} negative of {alert.total} articles, "
                    f"{alert.window_start} to {alert.window_end} UTC "
                    f"(baseline {alert.baseline:g}, z = {alert.score:.1f})")
            st.dataframe([{k: a[k] for k in ("title", "source", "published", "driving")}
                          for a in alert.articles], hide_index=True, width="stretch")
            if st.button("Acknowledge", key=f"ack-{alert.id}"):
                service.acknowledge(alert.id, by="dashboard")
                st.rerun()


def show_trends(service: FinanceService) -> None:
    stats = service.trends()
    kind = st.radio("Group by", ["topic", "ticker"], horizontal=True, key="trend-kind")
    metric = st.selectbox("Measure", ["negatives", "negative_share", "net_sentiment", "count"],
                          key="trend-metric")
    frame = trends_frame(stats, kind)
    if frame.empty:
        st.info("No classified articles yet.")
        return
    keys = sorted(frame["key"].unique())
    default = keys if kind == "topic" else keys[:5]
    # subtle: one key per kind; a shared key kept the topics chosen before as the ticker
    # choice, which matches no ticker, so the ticker chart opened empty
    chosen = st.multiselect(kind.capitalize(), keys, default=default, key=f"trend-keys-{kind}")
    chart = frame[frame["key"].isin(chosen)].pivot(index="window", columns="key", values=metric)
    st.line_chart(chart)


def show_articles(service: FinanceService) -> None:
    columns = st.columns(4)
    topic = columns[0].selectbox("Topic", ["(any)"] + topics(service.engine), key="f-topic")
    sentiment = columns[1].selectbox("Sentiment", ["(any)", *SENTIMENTS], key="f-sentiment")
    source = columns[2].selectbox("Source", ["(any)"] + [s.name for s in service.config.sources],
                                  key="f-source")
    search = columns[3].text_input("Search", key="f-search")
    filters = {"topic": None if topic == "(any)" else topic,
               "sentiment": None if sentiment == "(any)" else sentiment,
               "source": None if source == "(any)" else source, "search": search or None}
    frame = articles_frame(service.engine, **filters)
    # counted only when the list may be cut at its limit: otherwise it is all there is
    total = count_articles(service.engine, **filters) if len(frame) >= ARTICLE_LIMIT else len(frame)
    st.caption(f"the newest {len(frame)} of {total} articles" if total > len(frame)
               else f"{total} articles")
    st.dataframe(frame, hide_index=True, width="stretch")
    if not frame.empty:
        chosen = st.selectbox("Details of article", frame["id"].tolist(), key="f-detail")
        found = article(service.engine, int(chosen))
        st.text(found["title"])
        st.code(found["text"] or "(headline only)", language=None, wrap_lines=True)
        st.text("Driving sentences: " + " | ".join(found["driving"]))


def show_health(service: FinanceService) -> None:
    frame = health_frame(service.engine, [s.name for s in service.config.sources])
    if frame.empty:
        st.info("No polls yet: run `verticals finance run` or `verticals finance poll-once`.")
    st.dataframe(frame, hide_index=True, width="stretch")


def show_models(service: FinanceService) -> None:
    cards = service.model_cards()
    if not cards:
        st.info("No models yet: `verticals finance train` or `verticals finance demo`.")
    for card in cards.values():
        with st.container(border=True):
            show_model_card(card)


def show_corrections(service: FinanceService) -> None:
    st.caption("Corrections become labelled data; the nightly retrain promotes a new model "
               "only if it is not worse on the fixed test set.")
    cards = service.model_cards()
    field = st.radio("Field", ["sentiment", "topic"], horizontal=True, key="c-field")
    name = service.config.models.sentiment if field == "sentiment" \
        else service.config.models.topic
    labels = cards.get(name, {}).get("labels") or list(SENTIMENTS)
    with st.form("correct"):
        article_id = st.number_input("Article id", min_value=1, step=1)
        value = st.selectbox("Correct label", labels)
        if st.form_submit_button("Save correction"):
            try:
                service.correct(int(article_id), field, value)
                st.success(f"Article {int(article_id)}: {field} set to {value}")
            except VerticalsError as exc:
                st.error(str(exc))
    st.dataframe(corrections_frame(service.engine), hide_index=True, width="stretch")


def main() -> None:
    st.title("Finance monitor")
    path = default_config_path()
    if not path.exists():
        st.info(f"No sources config at {path}. Run `verticals finance demo` to create one.")
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
