"""Streamlit pieces the three dashboards share: model cards, metrics and the registry."""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from .errors import RegistryError
from .registry import Registry

_LINK = re.compile(r"!?\[([^\]]*)\]\(\s*<?([^\s)>]*)>?[^)]*\)")
# one of ``$~[]<`` after an even run of backslashes (none included): Markdown would read it
_UNESCAPED = re.compile(r"(?<!\\)((?:\\\\)*)([$~\[\]<])")


def page_title(title: str) -> None:
    """A dashboard's title, and its browser tab's; wide, as in the suite (run alone, the
    default centred column cut tables' columns off)."""
    st.set_page_config(page_title=f"{title} · verticals", layout="wide")
    st.title(title)


def markdown_text(text: str, keep_formatting: bool = False) -> str:
    """``text`` escaped to read literally in ``st.markdown``: ``"*Cheap* eats for $5 to $9"``
    -> ``"\\*Cheap\\* eats for \\$5 to \\$9"`` (no italics, no LaTeX between the dollars).

    With ``keep_formatting``, text written as Markdown (a knowledge-base article) keeps its
    emphasis and lists, but ``"$4.99 or $9.99"`` stays prices and ``"3~5 days"`` gets no
    strike-through. Links and images become their words with the address after them:
    ``"[our shop](https://x.test)"`` -> ``"our shop (https://x.test)"``.

    subtle: an image loads from wherever its address points as soon as the page shows it (a
    KB file could make every reader's browser call a tracker), and a link's words can hide
    where it goes; ``[``, ``]`` and ``<`` are escaped too, so no reference-style link, image or
    autolink forms either (``>`` is left: a quote stays a quote). One the author escaped already
    is left as it is. Known cost: inside `code` such characters show their backslash.
    """
    if not keep_formatting:
        return "".join("\\" + c if c in "\\`*_{}[]()<>#+-.!|~$" else c for c in text)
    text = _LINK.sub(lambda m: f"{m[1]} ({m[2]})" if m[2] and m[1] else m[1] or m[2], text)
    return _UNESCAPED.sub(lambda m: f"{m[1]}\\{m[2]}", text)


# a bi-encoder's held-out scores, with the weights its version serves (tuned, or the base's)
_RECALL = ("Share of held-out queries (a question, a user's history) whose own match (its answer, the item "
           "taken next) ranks first of the held-out texts, with {weights}.")
_MRR = "Mean reciprocal rank of each held-out query's own match (top 10), with {weights}."
_TUNED = "the tuned weights this version serves"
_BASE = "the weights this version serves: the base model's (tuning lowered the MRR)"
# What a metric key means to a reader of the dashboards: (label, tooltip); others get their
# key with spaces. subtle: keys stay the card's own (scripts and `--json` read those).
LABELS = {
    "accuracy": ("Accuracy", "Share of test texts given the right label."),
    "macro_f1": ("Macro F1", "F1 averaged over the classes, each class counting the same however rare."),
    "model_accuracy": ("Accuracy, model alone", "Accuracy of the fine-tuned model without the linear probe on "
                       "frozen sentence vectors averaged in (Accuracy is the average's: what serves)."),
    "val_accuracy": ("Validation accuracy", "Accuracy on the held-back validation split (no test set given)."),
    "val_macro_f1": ("Validation macro F1", "Macro F1 on the held-back validation split (no test set given)."),
    "ece": ("Calibration error", "Expected calibration error: the mean gap between how sure the model is "
            "and how often it is right. Lower is better; under 0.05 is well calibrated."),
    "epochs_run": ("Epochs trained", "Passes over the training data; early stopping may end training sooner."),
    "kept_epoch": ("Epoch kept", "The epoch whose weights this version serves: the best on the validation split, "
                   "not always the last."),
    "seconds_per_epoch": ("Seconds per epoch", "Wall-clock time of one pass over the training data."),
    "val_auc": ("Validation AUC", "Chance that an item a held-out user took is ranked above one they "
                "were shown and left (0.5 = chance, 1 = perfect)."),
    # a bi-encoder's *_after are the scores of the weights its version serves (see KEPT_BASE)
    "recall_at_1_after": ("Recall@1", _RECALL.format(weights=_TUNED)),
    "recall_at_1_before": ("Recall@1 before", "The same, with the untuned base model."),
    "mrr_after": ("MRR", _MRR.format(weights=_TUNED)),
    "mrr_before": ("MRR before", "The same, with the untuned base model."),
    "n_train_pairs": ("Training pairs", "(query, match) pairs the tuning learned from."),
    "n_heldout_pairs": ("Held-out pairs", "Pairs kept out of tuning to measure Recall@1 and MRR."),
    "perplexity_after": ("Perplexity", "How surprised the model is by held-out in-domain text; lower is better."),
    "val_rows": ("Validation rows", "Candidate (user, item) pairs the validation AUC is measured on."),
    "val_positives": ("Validation positives", "Of those, the items the users took next."),
    "val_users": ("Validation users", "Held-out users whose later takes make the validation set."),
    "val_offer_recall": ("Offer recall", "Share of the validation users whose candidates held one of their "
                         "next takes: the ranker can only order what is offered."),
}
ONE_FEATURE_AUC = "val_auc_"  # a ranker's validation AUC of one feature alone: val_auc_co_taken
# A bi-encoder whose tuning lowered the held-out MRR serves the base's weights (card "kept": "base",
# shared.contrastive.train_biencoder): its *_after are then the base's (equal to *_before, so those are
# not shown twice) and *_tuned are the rejected tuning's.
KEPT_BASE = {
    "recall_at_1_after": ("Recall@1 (base, serving)", _RECALL.format(weights=_BASE)),
    "mrr_after": ("MRR (base, serving)", _MRR.format(weights=_BASE)),
    "recall_at_1_tuned": ("Recall@1 (rejected tuning)", "The same, with the tuned weights this version did not keep."),
    "mrr_tuned": ("MRR (rejected tuning)", "The same, with the tuned weights this version did not keep."),
}
# The one figure the registry table shows per kind of model: the first of these the card has.
HEADLINE = {
    "classifier": ("macro_f1", "val_macro_f1", "accuracy", "val_accuracy"),
    "cross_encoder": ("macro_f1", "val_macro_f1", "accuracy", "val_accuracy"),
    "biencoder": ("recall_at_1_after", "mrr_after"),
    "ranker": ("val_auc",),
    "encoder": ("perplexity_after",),
}
LOWER_IS_BETTER = {"ece", "perplexity_after"}


def metric_label(key: str, card: dict | None = None) -> str:
    """``"ece"`` -> ``"Calibration error"``; an unknown ``"val_rows"`` -> ``"val rows"``; as it
    reads on ``card`` (:func:`card_labels`)."""
    return _label(key, card_labels(card or {}))[0]


def _label(key: str, labels: dict[str, tuple[str, str]]) -> tuple[str, str]:
    """``labels[key]``; else a ranker's one-feature AUC in words, else the key with spaces."""
    if key in labels:
        return labels[key]
    if key.startswith(ONE_FEATURE_AUC):
        feature = key.removeprefix(ONE_FEATURE_AUC).replace("_", " ")
        return (f"AUC, {feature} alone", f"The validation AUC of the {feature} feature by itself "
                "(0.5 = chance): what it brings to the ranker on its own.")
    return key.replace("_", " "), ""


def card_labels(card: dict) -> dict[str, tuple[str, str]]:
    """:data:`LABELS` as they read on ``card``: a bi-encoder that kept the base's weights names
    which figures are the serving base's and which the rejected tuning's:
    ``card_labels({"kept": "base"})["mrr_tuned"][0] == "MRR (rejected tuning)"``."""
    return LABELS | KEPT_BASE if card.get("kept") == "base" else LABELS


def card_metrics(card: dict) -> dict:
    """The card's metrics as its tiles show them: on a bi-encoder that kept the base's weights,
    the serving figures, then the rejected tuning's, then the rest; ``*_before`` (the same as
    the serving ones there) left out. Other cards' metrics as they are."""
    metrics = card.get("metrics", {})
    if card.get("kept") != "base":
        return metrics
    shown = {k: v for k, v in metrics.items() if not k.endswith("_before")}
    return dict(sorted(shown.items(), key=lambda kv: not kv[0].endswith(("_after", "_tuned"))))


def headline(card: dict) -> tuple[str, float] | None:
    """The card's headline metric key and value for its kind, or None when it has none:
    ``headline({"kind": "ranker", "metrics": {"val_auc": 0.71}}) == ("val_auc", 0.71)``."""
    metrics = card.get("metrics", {})
    for key in HEADLINE.get(card.get("kind") or "classifier", ()):
        if isinstance(metrics.get(key), int | float):
            return key, float(metrics[key])
    return None


def measured_on(card: dict) -> int | None:
    """How many held-out examples the card's headline metric was measured on, where it says:
    a classifier's test rows (its per-class support), a bi-encoder's held-out pairs, a ranker's
    validation rows.

    subtle: the demo's finance models read 1.000 on the home page with nothing saying that
    was 72 synthetic headlines."""
    metrics, top = card.get("metrics", {}), headline(card)
    if top and top[0] in ("macro_f1", "accuracy") and isinstance(metrics.get("per_class"), dict):
        return sum(int(c.get("support", 0)) for c in metrics["per_class"].values())
    if top and top[0] in ("recall_at_1_after", "mrr_after") and "n_heldout_pairs" in metrics:
        return int(metrics["n_heldout_pairs"])
    if top and top[0] == "val_auc" and "val_rows" in metrics:  # a ranker's validation rows
        return int(metrics["val_rows"])
    return None


def regression(card: dict, previous: dict | None) -> str:
    """A note when ``card`` scores worse than the ``previous`` version on the same headline metric,
    else ``""``: ``"Macro F1 0.712 is worse than v1's 0.801"``."""
    now, before = headline(card), headline(previous) if previous else None
    if not now or not before or now[0] != before[0]:
        return ""
    worse = now[1] > before[1] if now[0] in LOWER_IS_BETTER else now[1] < before[1]
    if not worse:
        return ""
    return f"{metric_label(now[0], card)} {now[1]:.3f} is worse than " \
           f"{previous.get('version', 'the previous version')}'s {before[1]:.3f}"


def _tile_value(key: str, value: int | float) -> str:
    if key == "seconds_per_epoch":
        return f"{value:.1f} s"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def show_metrics(metrics: dict, labels: dict[str, tuple[str, str]] = LABELS) -> None:
    """Headline metrics as st.metric tiles with readable names and a tooltip (``labels``, see
    :func:`card_labels`), then a per-class table when there is one."""
    headline_ = {k: v for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    # measures first, then counts (whole numbers): "val rows" stood between two AUCs
    headline_ = dict(sorted(headline_.items(), key=lambda kv: isinstance(kv[1], int)))
    if headline_:
        columns = st.columns(min(4, len(headline_)))
        for i, (key, value) in enumerate(headline_.items()):
            label, help_ = _label(key, labels)
            columns[i % len(columns)].metric(label, _tile_value(key, value), help=help_ or None)
    table = per_class_table(metrics)
    if table is not None:
        st.dataframe(table.round(3), width="stretch")
    for label, n in untested_predictions(metrics).items():
        st.caption(f"No test example is labelled {label}, yet the model gave that label to {n} of them: "
                   "they count as wrong, so its row reads 0.")


def per_class_table(metrics: dict) -> pd.DataFrame | None:
    """The per-class report, one row per class, without the classes the test set never held
    and the model never predicted: their zeros would read as a class that fails (the support
    bot's ``knowledge_base`` class, trained on KB questions its intent test set lacks)."""
    per_class = metrics.get("per_class")
    if not per_class:
        return None
    table = pd.DataFrame(per_class).T
    if "support" in table and (predicted := _predicted(metrics)):
        table = table[[row["support"] > 0 or predicted.get(label, 0) > 0 for label, row in table.iterrows()]]
    return table


def _predicted(metrics: dict) -> dict[str, int]:
    """How many test examples the model gave each label (the confusion matrix's columns); empty
    where the metrics hold no confusion matrix."""
    labels, confusion = metrics.get("labels"), metrics.get("confusion")
    return dict(zip(labels, [sum(column) for column in zip(*confusion)], strict=False)) if labels and confusion else {}


def untested_predictions(metrics: dict) -> dict[str, int]:
    """The classes no test example holds that the model still predicted, with how often: their
    row of zeros in :func:`per_class_table` needs saying why (the support bot's
    ``knowledge_base`` class, given to intent test questions it sends to search)."""
    predicted = _predicted(metrics)
    return {label: predicted[label] for label, row in (metrics.get("per_class") or {}).items()
            if not row.get("support") and predicted.get(label)}


def explanation_text(label: str, attributions: list[tuple[str, float]], k: int = 5) -> str:
    """The words that pushed a prediction, strongest first (``shared.explain``'s pairs), in a
    line of plain text: scraped or typed words are shown, never rendered.

    >>> explanation_text("negative", [("Bank", 0.01), ("fined", 0.62), ("again", -0.03)])
    "read as 'negative' mostly for: fined (+0.62), Bank (+0.01)"
    """
    from .explanations import top_words

    pushed = [(w, s) for w, s in top_words(attributions, k) if s >= 0.005]  # "+0.00" said nothing
    if not pushed:
        return f"read as {label!r}; no single word carries it (each one alone changes little)"
    return f"read as {label!r} mostly for: " + ", ".join(f"{w} ({s:+.2f})" for w, s in pushed)


def show_model_card(card: dict) -> None:
    """A model card: identity, base, data fingerprint, recipe and metrics."""
    st.markdown(f"**{card.get('name', '?')}** `{card.get('version', '?')}` — {card.get('kind', 'model')}")
    st.caption(
        f"base `{card.get('base', '?')}` · data `{card.get('data_fingerprint', '?')}` · "
        f"created {card.get('created', '?')}"
    )
    if card.get("warning"):  # e.g. a validation too thin to trust the metrics below
        st.warning(card["warning"])
    show_metrics(card_metrics(card), card_labels(card))
    if (held := measured_on(card)) is not None:  # subtle: the demo's 1.000 rested on 72 synthetic headlines
        # subtle: "held-out" sat under the warning that some test rows repeat training texts
        st.caption(f"Measured on {held:,} test examples" + (
            ": a rough guide; measure on your own data (`eval`) before trusting it." if held < 200 else "."))
    with st.expander("recipe and history"):
        st.json({"params": card.get("params", {}), "history": card.get("history", [])})


def registry_rows(registry: Registry) -> list[dict]:
    """One row per model for the registry table: current version, kind, its headline metric
    (named) rounded to 3 places, and warnings (the card's own, and a drop from the version
    before the current one)."""
    rows = []
    for name in registry.names():
        current = registry.current(name)
        versions = registry.versions(name)
        try:
            card = registry.card(name, current or versions[-1])
            before = versions.index(current) - 1 if current in versions else -1
            previous = registry.card(name, versions[before]) if before >= 0 else None
        except RegistryError as err:  # a damaged card: this row says so, the others stand
            rows.append({"model": name, "current": current, "versions": len(versions), "warnings": str(err)})
            continue
        top = headline(card)
        unpromoted = "" if current else f"no version promoted yet (shown: {versions[-1]}, not serving)"
        warnings = [w for w in (unpromoted, card.get("warning", ""), regression(card, previous)) if w]
        rows.append({"model": name, "current": current, "versions": len(versions), "kind": card.get("kind"),
                     "metric": metric_label(top[0], card) if top else "", "value": round(top[1], 3) if top else None,
                     "measured on": measured_on(card), "warnings": " · ".join(warnings),
                     "created": card.get("created")})
    return rows


def show_registry(registry: Registry) -> None:
    """One row per model: current version, kind, headline metric, warnings; a card per model below."""
    rows = registry_rows(registry)
    if not rows:
        st.info("No models in the registry yet. Run `make demo` or `verticals finetune classify`.")
        return
    st.dataframe(pd.DataFrame(rows), width="stretch", hide_index=True, column_config={
        "metric": st.column_config.TextColumn("headline metric", help="The figure that matters most for "
                                              "this kind of model; the card below has the rest."),
        "value": st.column_config.NumberColumn(format="%.3f"),
        "measured on": st.column_config.NumberColumn(help="Held-out examples behind the headline metric: "
                                                     "few examples, rough figure.", format="%d examples"),
        "warnings": st.column_config.TextColumn(help="The model's own caveats, and a drop from the version "
                                                "before it.", width="large"),
    })
    for row in rows:
        if "kind" not in row:  # its card is unreadable (the row's warning says why)
            continue
        label = f"card: {row['model']}" + (" ⚠" if row["warnings"] else "")
        with st.expander(label):
            show_model_card(registry.card(row["model"], row["current"] or registry.versions(row["model"])[-1]))
