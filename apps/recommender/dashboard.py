"""Recommender dashboard: pick a user, see their history and a reranked, explained top-N.

Runs alone (``verticals recommend dashboard [--items I.csv --interactions X.csv] [--prefix P]
[--scores S]``) or as a page of the suite's app. Those options travel as ``VERTICALS_REC_ITEMS`` /
``VERTICALS_REC_INTERACTIONS`` / ``VERTICALS_REC_PREFIX`` / ``VERTICALS_REC_SCORES``; without them
the page shows the demo data and the demo's models (prefix ``demo``); with your files the prefix
defaults to ``rec``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import streamlit as st

from apps.recommender.calibration import MIN_SHARE
from apps.recommender.features import FEATURE_NAMES, TEXT_FEATURES
from apps.recommender.ranker import unweighted_text_note
from apps.recommender.reasons import BELOW_AVERAGE, NO_REASON, NOTHING_STOOD_OUT, UNTAKEN
from apps.recommender.service import DEMO_PREFIX, Recommendation, RecommenderService
from shared import get_registry, get_settings
from shared.data import read_table
from shared.errors import DataError, VerticalsError
from shared.ui import markdown_text, page_title, show_model_card

DEMO = Path(__file__).resolve().parents[2] / "datasets" / "recommender"
NEW_USER = "(a new user with no history)"
MOST = 20  # the slider's top


@st.cache_resource(max_entries=1)
def load_service(items: str, interactions: str, prefix: str,
                 stamp: tuple) -> RecommenderService:
    """One warm service; ``stamp`` (the files' size and mtime, the current ranker version)
    reloads it when they change."""
    return RecommenderService(items, interactions, prefix)


@st.cache_data(max_entries=64, show_spinner="Scoring the catalogue...")
def top_recommendations(_service: RecommenderService, user: str, n: int, files: tuple, prefix: str,
                        stamp: tuple) -> tuple[list[Recommendation], str]:
    """The user's top ``n`` and note, kept per user, ``n``, files and models (``stamp``): going
    back to a user or a slider position shows them at once instead of rescoring (3 s).

    subtle: scored for ``n`` itself, not sliced from a longer list: the candidate pool grows
    with ``n``, so a prefix of the top 20 was not the top 10 that ``recommend score`` writes."""
    return _service.recommend(user, n)


def file_stamp(*paths: str) -> tuple:
    return tuple((os.stat(p).st_size, os.stat(p).st_mtime_ns) if os.path.exists(p) else None
                 for p in paths)


def model_stamp(prefix: str) -> tuple:
    """The registry and its current ranker (which pins the text models): after a CLI
    ``recommend train`` the dashboard serves the new models, not the ones it loaded first."""
    registry = get_registry()
    return str(registry.root), registry.current(f"{prefix}-ranker")


def recommendations_table(recs: list[Recommendation]) -> pd.DataFrame:
    """One row per recommendation, the columns that explain it first (they stay in view on a
    narrow screen): score (P(take) in percent) = baseline + text interest + other features in
    logit terms. A text interest of 0 throughout is left out, and for a user
    with no history (no feature parts: scored by the items' share of takers) the other features
    too (their 2.19 was the share's logit less the ranker's baseline, which scored nothing)."""
    table = pd.DataFrame([{
        "rank": i, "title": r.title, "score": 100 * r.score, "text interest": round(r.text_part, 2),
        "other features": round(r.other_part, 2), "because": r.because, "category": r.category,
    } for i, r in enumerate(recs, start=1)])
    if table.empty:  # a user who has taken every item
        return table
    empty = ["text interest"] if (table["text interest"] == 0).all() else []
    return table.drop(columns=empty + ([] if any(r.parts for r in recs) else ["other features"]))


@st.cache_data(max_entries=2, show_spinner=False)
def batch_scores(path: str, stamp: tuple) -> pd.DataFrame:
    """A batch job's output (Parquet or CSV, as ``recommend score`` writes), read once per file
    version (``stamp``: size and mtime); a file it cannot read is a one-line error."""
    frame = read_table(path, ["user_id", "item_id", "score", "rank"])
    try:
        return frame.astype({"score": float, "rank": int})
    except ValueError as err:
        raise DataError(path, None, f"has a score or rank that is not a number ({err})",
                        "pass a file written by `verticals recommend score`") from None


def show_batch(path: str, user_id: str, service: RecommenderService) -> None:
    """What the last batch run delivered for this user: the scores people actually receive."""
    if not path or not Path(path).is_file():
        st.caption("No batch output to show: `verticals recommend score ... --out FILE` writes one, and "
                   "`verticals recommend dashboard --scores FILE` shows it here (the demo's is made by "
                   "`verticals recommend demo`).")
        return
    try:
        frame = batch_scores(path, file_stamp(path))
    except VerticalsError as err:
        st.error(f"Batch output not shown: {err}")
        return
    mine = frame[frame["user_id"] == user_id].sort_values("rank")
    made = pd.Timestamp(Path(path).stat().st_mtime, unit="s").strftime("%Y-%m-%d %H:%M")
    if unknown := int((~frame["item_id"].isin(service.items["item_id"])).sum()):  # titles read NaN
        st.warning(f"{unknown:,} rows of {Path(path).name} name items this catalogue lacks: it was scored on "
                   "another catalogue, so this user's list below may be incomplete or out of date.")
    st.caption(f"{Path(path).name}, written {made} UTC: {len(frame):,} rows for {frame['user_id'].nunique():,} "
               "users. The list above is scored now; this is what the last run delivered, and they differ "
               "after new interactions or models.")
    if mine.empty:
        st.caption("This user has no rows in it.")
        return
    titles = dict(zip(service.items["item_id"], service.items["title"], strict=True))
    st.dataframe(pd.DataFrame({"rank": mine["rank"], "title": mine["item_id"].map(titles),
                               "score": 100 * mine["score"]}), hide_index=True, width="stretch",
                 column_config={"score": st.column_config.NumberColumn("score", format="%.2f%%")})


def show_why(recs: list[Recommendation], user_id: str) -> None:
    """Why an item ranks (the first, or the one picked): the reason, then what each feature
    added to its logit."""
    # subtle: one key per user: a shared one kept the last user's pick ("1. Late Sets ...")
    # above a chart explaining this user's item of that rank
    picked = st.selectbox("Why this one?", range(len(recs)), key=f"why-item-{user_id}",
                          format_func=lambda i: f"{i + 1}. {recs[i].title}")
    top = recs[picked]
    if top.because in (NOTHING_STOOD_OUT, UNTAKEN, BELOW_AVERAGE):
        reason = f"{top.because[0].upper()}{top.because[1:]}."
    elif top.because == NO_REASON:
        reason = "No reason to show: what raised its score (below) reads as no reason to take it."
    else:
        reason = f"Because {top.because}."
    st.markdown(f"**Why “{markdown_text(top.title)}”?** {markdown_text(reason)}")
    parts = pd.DataFrame({"feature": [FEATURE_NAMES.get(f, f) for f in top.parts],
                          "added to the logit": list(top.parts.values())})
    # subtle: sort=False (data order, the frame sorted) drew the bars in a fixed order in Chromium
    st.bar_chart(parts, x="feature", y="added to the logit", horizontal=True, sort="-added to the logit")
    st.caption(f"Each bar is what a feature added to (or took from) the baseline logit, "
               f"{top.baseline:.2f} (an average candidate); baseline + bars = its logit, "
               f"{top.baseline + sum(top.parts.values()):.2f} (score {100 * top.score:.2f}%).")


page_title("Recommender")
demo = not (os.environ.get("VERTICALS_REC_ITEMS") or os.environ.get("VERTICALS_REC_INTERACTIONS"))
files = (os.environ.get("VERTICALS_REC_ITEMS") or str(DEMO / "items.csv"),
         os.environ.get("VERTICALS_REC_INTERACTIONS") or str(DEMO / "interactions.csv"))
prefix = os.environ.get("VERTICALS_REC_PREFIX") or (DEMO_PREFIX if demo else "rec")
stamp = file_stamp(*files) + model_stamp(prefix)
service = load_service(*files, prefix, stamp)
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

warm = next((i for i, u in enumerate(users) if service.has_history(u)), 0)
user = st.selectbox("User", users + [NEW_USER], index=warm)
n = st.slider("How many recommendations", min_value=3, max_value=MOST, value=10)
user_id = "__new_user__" if user == NEW_USER else user

heading = st.empty()  # its words wait for the list: a user with no history gets the most popular
try:
    recs, note = top_recommendations(service, user_id, n, files, prefix, stamp)
except VerticalsError as err:
    st.error(str(err))
    st.stop()
heading.subheader(f"Top {n}, most popular" if note else f"Top {n}, reranked")
if note:
    st.info(note)
st.dataframe(recommendations_table(recs), hide_index=True, width="stretch",
             column_config={"score": st.column_config.NumberColumn("score", format="%.2f%%")})
baseline = f" {recs[0].baseline:.2f}" if recs else ""
cards = service.cards()  # the ranker's first, then the text models it pins
coef = cards[0]["params"].get("coef")  # text weights of 0: the bound in fit_ranker
st.caption("Score = the share of users who took the item, in percent: with nothing taken yet, the ranker has "
           "nothing of this user's to read." if note else
           "Score = the ranker's P(take), in percent. Its logit (log-odds) = baseline"
           f"{baseline} (an average candidate: every feature at its training mean; the same for "
           "every item) + text interest (bi- and cross-encoder) + other features (popularity, "
           "recency, category, activity, co-taken), each part measured from that average. A user "
           f"who takes two or more categories often (each at least {MIN_SHARE:.0%} of their takes) gets them in "
           "about those shares, so an item of the smaller taste can come before a higher score."
           + (" This ranker gives the text scores no weight: on its validation data they added nothing"
              " to the other features." if coef and not any(coef.get(f) for f in TEXT_FEATURES) else "")
           + (f" {unweighted[:1].upper()}{unweighted[1:]}." if coef and (unweighted := unweighted_text_note(coef))
              else ""))
if recs and not note:
    show_why(recs, user_id)

st.subheader("History")
history = service.history(user_id)
if history.empty:
    st.caption("Nothing yet.")
else:
    history["taken"] = history.pop("label").map({1: "yes", 0: "shown only"})
    st.dataframe(history.drop(columns=["item_id"]), hide_index=True, width="stretch")

st.subheader("From the batch job")
scores = os.environ.get("VERTICALS_REC_SCORES") or (
    str(get_settings().home / "recommender" / "demo_scores.parquet") if demo else "")
show_batch(scores, user_id, service)

st.subheader("Models")
for card in cards:
    with st.expander(f"{card.get('name')} {card.get('version')} ({card.get('kind')})"):
        show_model_card(card)
