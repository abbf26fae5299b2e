"""The suite's Streamlit app: a home page showing the core at work, and a page per vertical.

Run with ``streamlit run apps/home.py`` (``make demo`` does). Each app's dashboard is also
runnable on its own (``verticals <app> dashboard``); here it is one page of the suite.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

HERE = Path(__file__).resolve().parent
APPS = [
    ("support_bot", "Support bot", ":material/support_agent:"),
    ("finance_monitor", "Finance monitor", ":material/monitoring:"),
    ("recommender", "Recommender", ":material/recommend:"),
]


def home() -> None:
    from shared.registry import get_registry
    from shared.settings import get_settings
    from shared.ui import show_registry

    st.title("verticals")
    st.caption("One fine-tuning core, three vertical apps: pick an app in the sidebar.")
    settings = get_settings()
    # subtle: the requested device, not settings.device: resolving "auto" imports torch (~4 s)
    device = f"`{settings.requested_device}`" if settings.requested_device else "auto (CUDA when present)"
    st.markdown(f"Home `{settings.home}` · device {device} · database `{settings.db_url}`")
    st.subheader("Models in the registry")
    show_registry(get_registry())


st.set_page_config(page_title="verticals", layout="wide")
pages = [st.Page(home, title="Home", icon=":material/home:", default=True)]
for folder, title, icon in APPS:
    script = HERE / folder / "dashboard.py"
    if script.exists():
        pages.append(st.Page(script, title=title, icon=icon, url_path=folder))
st.navigation(pages).run()
