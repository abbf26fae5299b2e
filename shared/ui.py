"""Streamlit pieces the three dashboards share: model cards, metrics and the registry."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from .registry import Registry


def show_metrics(metrics: dict) -> None:
    """Headline metrics as st.metric tiles, then a per-class table when there is one."""
    headline = {k: v for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    if headline:
        columns = st.columns(min(4, len(headline)))
        for i, (key, value) in enumerate(headline.items()):
            columns[i % len(columns)].metric(key, f"{value:.3f}" if isinstance(value, float) else value)
    per_class = metrics.get("per_class")
    if per_class:
        st.dataframe(pd.DataFrame(per_class).T.round(3), width="stretch")


def show_model_card(card: dict) -> None:
    """A model card: identity, base, data fingerprint, recipe and metrics."""
    st.markdown(f"**{card.get('name', '?')}** `{card.get('version', '?')}` — {card.get('kind', 'model')}")
    st.caption(
        f"base `{card.get('base', '?')}` · data `{card.get('data_fingerprint', '?')}` · "
        f"created {card.get('created', '?')}"
    )
    if card.get("warning"):  # e.g. a validation too thin to trust the metrics below
        st.warning(card["warning"])
    show_metrics(card.get("metrics", {}))
    with st.expander("recipe and history"):
        st.json({"params": card.get("params", {}), "history": card.get("history", [])})


def show_registry(registry: Registry) -> None:
    """One row per model: current version, kind, headline metrics; a card per model below."""
    names = registry.names()
    if not names:
        st.info("No models in the registry yet. Run `make demo` or `verticals finetune classify`.")
        return
    rows = []
    for name in names:
        card = registry.card(name)
        metrics = card.get("metrics", {})
        rows.append({"model": name, "current": registry.current(name), "versions": len(registry.versions(name)),
                     "kind": card.get("kind"), "accuracy": metrics.get("accuracy"),
                     "macro_f1": metrics.get("macro_f1"), "created": card.get("created")})
    st.dataframe(pd.DataFrame(rows), width="stretch", hide_index=True)
    for name in names:
        with st.expander(f"card: {name}"):
            show_model_card(registry.card(name))
