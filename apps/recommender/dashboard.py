"""Recommender dashboard: pick a user, see their history and a reranked, explained top-N.

Runs alone (``verticals recommend dashboard [--items I.csv --interactions X.csv] [--prefix P]``)
or as a page of the suite's app. Those options travel as ``VERTICALS_REC_ITEMS`` /
``VERTICALS_REC_INTERACTIONS`` / ``VERTICALS_REC_PREFIX``; without them the page shows the demo
data and the demo's models (prefix ``demo``); with your files the prefix defaults to ``rec``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
import streamlit as st

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # subtle: `streamlit run` puts only this folder on sys.path
    sys.path.insert(0, str(ROOT))

from apps.recommender.service import DEMO_PREFIX, RecommenderService  # noqa: E402
from shared import get_registry  # noqa: E402
from shared.errors import VerticalsError  # noqa: E402
from shared.ui import show_model_card  # noqa: E402

DEMO = ROOT / "datasets" / "recommender"
NEW_USER = "(a new user with no history)"


@st.cache_resource(max_entries=1)
def load_service(items: str, interactions: str, prefix: str,
                 stamp: tuple) -> RecommenderService:
    """One warm service; ``stamp`` (the files' size and mtime, the current ranker version)
    reloads it when they change."""
    return RecommenderService(items, interactions, prefix)


def file_stamp(*paths: str) -> tuple:
    return tuple((os.stat(p).st_size, os.stat(p).st_mtime_ns) if os.path.exists(p) else None
                 for p in paths)


def model_stamp(prefix: str) -> tuple:
    """The registry and its current ranker (which pins the text models): after a CLI
    ``recommend train`` the dashboard serves the new models, not the ones it loaded first."""
    registry = get_registry()
    return str(registry.root), registry.current(f"{prefix}-ranker")


def recommendations_table(recs: list) -> pd.DataFrame:
    """One row per recommendation; baseline + text interest + other features = logit(score)."""
    return pd.DataFrame([{
        "rank": i, "title": r.title, "category": r.category, "score": round(r.score, 3),
        "baseline": round(r.baseline, 2), "text interest": round(r.text_part, 2),
        "other features": round(r.other_part, 2), "because you liked": "; ".join(r.because),
    } for i, r in enumerate(recs, start=1)])


st.title("Recommender")
demo = not (os.environ.get("VERTICALS_REC_ITEMS") or os.environ.get("VERTICALS_REC_INTERACTIONS"))
files = (os.environ.get("VERTICALS_REC_ITEMS") or str(DEMO / "items.csv"),
         os.environ.get("VERTICALS_REC_INTERACTIONS") or str(DEMO / "interactions.csv"))
prefix = os.environ.get("VERTICALS_REC_PREFIX") or (DEMO_PREFIX if demo else "rec")
service = load_service(*files, prefix, file_stamp(*files) + model_stamp(prefix))
try:
    trained = service.is_trained()
    users = service.users()
except VerticalsError as err:
    st.error(str(err))
    st.stop()
if not trained:
    st.info("No demo models yet: run `verticals recommend demo`." if prefix == DEMO_PREFIX else
            f"No models under the prefix `{prefix}` yet: run `verticals recommend train "
            f"--items {files[0]} --interactions {files[1]} --prefix {prefix}`.")
    st.stop()

warm = [u for u in users if service.has_history(u)]
user = st.selectbox("User", users + [NEW_USER], index=users.index(warm[0]) if warm else 0)
n = st.slider("How many recommendations", min_value=3, max_value=20, value=10)
user_id = "__new_user__" if user == NEW_USER else user

st.subheader(f"Top {n}, reranked")
try:
    with st.spinner("Scoring the catalogue..."):
        recs, note = service.recommend(user_id, n)
except VerticalsError as err:
    st.error(str(err))
    st.stop()
if note:
    st.warning(note)
st.dataframe(recommendations_table(recs), hide_index=True, width="stretch")
st.caption("Score = the ranker's P(take). Its logit (log-odds) = baseline (an average candidate: "
           "every feature at its training mean) + text interest (bi- and cross-encoder) + other "
           "features (popularity, recency, category, activity, co-taken), each part measured "
           "from that average." + (" With no history, text interest is neutral (0)." if note else ""))
if recs and not note:
    top = recs[0]
    st.markdown(f"**Why “{top.title}”?** Because you liked {', '.join(top.because)}. "
                "Feature values:")
    st.bar_chart(pd.Series(top.features, name="value"), horizontal=True)

st.subheader("History")
history = service.history(user_id)
if history.empty:
    st.caption("Nothing yet.")
else:
    history["taken"] = history.pop("label").map({1: "yes", 0: "shown only"})
    st.dataframe(history.drop(columns=["item_id"]), hide_index=True, width="stretch")

st.subheader("Models")
for card in service.cards():
    with st.expander(f"{card.get('name')} {card.get('version')} ({card.get('kind')})"):
        show_model_card(card)
