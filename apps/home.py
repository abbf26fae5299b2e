"""The suite's Streamlit app: a home page showing the core at work, and a page per vertical.

Run with ``streamlit run apps/home.py`` (``make demo`` does). Each app's dashboard is also
runnable on its own (``verticals <app> dashboard``); here it is one page of the suite.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

if TYPE_CHECKING:
    from shared.settings import Settings

HERE = Path(__file__).resolve().parent
APPS = [
    ("support_bot", "Support bot", ":material/support_agent:",
     "Customer chat over the knowledge base: answer templates for sure intents, cited answers from "
     "search, a hand-off to a person when unsure. Admin: KB upload, hand-offs, gaps."),
    ("finance_monitor", "Finance monitor", ":material/monitoring:",
     "Scheduled scraping of finance feeds, topic and sentiment per article, per-topic trends and "
     "alerts when negative news surges; analysts correct labels for the nightly retrain."),
    ("recommender", "Recommender", ":material/recommend:",
     "Interest scores from item text and clicks, reranked with other features; the batch job's "
     "top items per user, each with why it was picked."),
]


def home() -> None:
    from shared.registry import get_registry
    from shared.settings import get_settings
    from shared.ui import show_registry

    st.title("verticals")
    st.caption("One fine-tuning core, three vertical apps.")
    waiting = waiting_for_people()
    for column, (page, blurb) in zip(st.columns(len(APP_PAGES)), APP_PAGES, strict=True):
        with column.container(border=True):
            st.page_link(page, label=page.title, icon=page.icon)
            st.caption(blurb)
            if line := waiting.get(page.url_path):
                st.markdown(f"**{line}**")
    settings = get_settings()
    st.markdown(f"Home `{settings.home}` · device {device_text(settings)} · database `{settings.db_url}`")
    st.subheader("Models in the registry")
    show_registry(get_registry())


def device_text(settings: Settings) -> str:
    """The device models load on, as every page resolves it: ``"`cuda`"``, ``"`cpu` (no GPU
    found)"`` or ``"`cpu` (VERTICALS_DEVICE; a GPU is present)"``.

    subtle: it read "auto (CUDA when present)" until another page resolved the device, then
    "cpu" with nothing changed; torch is already imported here (by the alert count), so
    resolving costs no import."""
    import torch

    from shared.errors import SettingsError

    try:
        device = settings.device
    except SettingsError as exc:  # VERTICALS_DEVICE=cuda without one: the model pages say so too
        return f"`cuda`, unavailable ({exc})"
    if device == "cuda":
        return "`cuda`"
    return "`cpu` (VERTICALS_DEVICE; a GPU is present)" if torch.cuda.is_available() else "`cpu` (no GPU found)"


def waiting_for_people() -> dict[str, str]:
    """What waits for a person, by app page: open hand-offs, open alerts (counts, cheap). An app
    whose tables cannot be read says nothing here; its own page says why."""
    from sqlalchemy.exc import SQLAlchemyError

    from apps.finance_monitor.views import open_alert_keys
    from apps.support_bot.ticket_queue import open_tickets_line
    from shared import make_engine
    from shared.errors import VerticalsError
    from shared.output import count_of

    try:
        engine = make_engine()  # one for both counts
    except VerticalsError:
        return {}
    counters = {"support_bot": open_tickets_line,  # worded as the Support bot page's line
                "finance_monitor": lambda e: count_of(n, "open alert") if (n := len(open_alert_keys(e))) else ""}
    lines = {}
    for page, line in counters.items():
        try:
            if text := line(engine):
                lines[page] = text
        except (VerticalsError, SQLAlchemyError):  # e.g. no tables before the app's first run: nothing waits
            continue
    return lines


st.set_page_config(page_title="verticals", layout="wide")
APP_PAGES = [(st.Page(HERE / folder / "dashboard.py", title=title, icon=icon, url_path=folder), blurb)
             for folder, title, icon, blurb in APPS if (HERE / folder / "dashboard.py").exists()]
st.navigation([st.Page(home, title="Home", icon=":material/home:", default=True)]
              + [page for page, _ in APP_PAGES]).run()
