from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

HOME = Path(__file__).resolve().parents[1] / "apps" / "home.py"


def _save(registry, name: str, card: dict) -> str:
    return registry.save(name, lambda d: None, card)


def _table(at: AppTest):
    return at.dataframe[0].value.set_index("model")


def test_home_shows_the_registry(home):
    from shared.registry import Registry

    Registry().save("toy", lambda d: None, {"kind": "classifier", "metrics": {"accuracy": 0.9, "macro_f1": 0.8}})
    at = AppTest.from_file(str(HOME), default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "verticals"
    assert any("toy" in str(df.value) for df in at.dataframe)


def test_the_registry_table_shows_one_named_rounded_headline_per_kind_and_warnings(home):
    from shared.registry import Registry

    registry = Registry()
    _save(registry, "intents", {"kind": "classifier", "metrics": {"accuracy": 0.9, "macro_f1": 0.81234567}})
    _save(registry, "intents", {"kind": "classifier", "metrics": {"accuracy": 0.8, "macro_f1": 0.7}})  # worse
    _save(registry, "faq-retriever", {"kind": "biencoder", "metrics": {"recall_at_1_after": 0.9, "mrr_after": 0.95}})
    _save(registry, "rec-ranker", {"kind": "ranker", "metrics": {"val_auc": 0.7149},
                                   "warning": "val_auc rests on 3 taken item(s) of 2 held-out user(s)"})
    at = AppTest.from_file(str(HOME), default_timeout=60).run()
    assert not at.exception
    table = _table(at)
    assert "accuracy" not in table.columns and "macro_f1" not in table.columns  # no None columns
    assert table.loc["faq-retriever", ["metric", "value"]].tolist() == ["Recall@1", 0.9]
    assert table.loc["rec-ranker", ["metric", "value"]].tolist() == ["Validation AUC", 0.715]
    assert table.loc["intents", ["current", "metric", "value"]].tolist() == ["v2", "Macro F1", 0.7]
    assert table.loc["intents", "warnings"] == "Macro F1 0.700 is worse than v1's 0.812"
    assert table.loc["rec-ranker", "warnings"].startswith("val_auc rests on 3 taken item(s)")
    assert table.loc["faq-retriever", "warnings"] == ""
    labels = sorted(e.label for e in at.expander if e.label.startswith("card"))
    assert labels == ["card: faq-retriever", "card: intents ⚠", "card: rec-ranker ⚠"]
    assert "device `cpu`" in at.markdown[0].value  # as VERTICALS_DEVICE asks (tests/conftest.py)


def test_a_model_still_training_its_first_version_is_listed_as_not_serving(home):
    from shared.registry import Registry

    # the support bot saves its intents unpromoted until their thresholds are calibrated
    Registry().save("support-intents", lambda d: None, {"kind": "classifier"}, promote=False)
    at = AppTest.from_file(str(HOME), default_timeout=60).run()
    assert not at.exception
    row = _table(at).loc["support-intents"]
    assert row["current"] is None and row["warnings"].startswith("no version promoted yet (shown: v1")


def test_a_model_card_reads_in_words_with_rounded_values(home):
    from shared.registry import Registry

    _save(Registry(), "intents", {"kind": "classifier", "metrics": {
        "epochs_run": 4, "seconds_per_epoch": 12.34567, "accuracy": 0.912345, "macro_f1": 0.9, "ece": 0.0412345}})
    at = AppTest.from_file(str(HOME), default_timeout=60).run()
    assert not at.exception
    tiles = {m.label: m.value for m in at.metric}
    assert tiles == {"Epochs trained": "4", "Seconds per epoch": "12.3 s", "Accuracy": "0.912",
                     "Macro F1": "0.900", "Calibration error": "0.041"}
    assert "lower is better" in next(m for m in at.metric if m.label == "Calibration error").help.lower()


def test_home_with_an_empty_registry_says_what_to_do(home):
    at = AppTest.from_file(str(HOME), default_timeout=60).run()
    assert not at.exception
    assert any("No models in the registry yet" in i.value for i in at.info)


def test_the_home_page_leads_to_each_app_and_says_what_a_figure_rests_on(home):
    from shared.registry import Registry

    per_class = {c: {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 24}
                 for c in ("negative", "neutral", "positive")}
    _save(Registry(), "finance-sentiment", {"kind": "classifier",
                                            "metrics": {"accuracy": 1.0, "macro_f1": 1.0, "per_class": per_class}})
    _save(Registry(), "faq-retriever", {"kind": "biencoder", "metrics": {"recall_at_1_after": 0.9,
                                                                        "n_heldout_pairs": 40}})
    _save(Registry(), "rec-ranker", {"kind": "ranker", "metrics": {"val_auc": 0.88, "val_rows": 518}})
    at = AppTest.from_file(str(HOME), default_timeout=60).run()
    assert not at.exception
    assert _table(at)["measured on"].to_dict() == {"faq-retriever": 40, "finance-sentiment": 72, "rec-ranker": 518}
    blurbs = [c.value for c in at.caption]
    assert any(b.startswith("Customer chat over the knowledge base") for b in blurbs)
    assert any(b.startswith("Scheduled scraping of finance feeds") for b in blurbs)
    assert any(b.startswith("Interest scores from item text and clicks") for b in blurbs)


def test_home_says_what_waits_for_people(home):
    """Open hand-offs and alerts, counted on each app's card; nothing when nothing waits."""
    from apps.support_bot.store import SupportStore

    at = AppTest.from_file(str(HOME), default_timeout=60).run()
    assert not at.exception and not [m for m in at.markdown if "open hand-off" in m.value]
    store = SupportStore()
    tickets = [store.open_ticket(store.open_conversation()[0], question, "out of scope")
               for question in ("who won the match?", "is it raining?")]
    at.run()
    assert "**2 open hand-offs (2 waiting for an agent's reply)**" in [m.value for m in at.markdown]
    # an answered one waits for the customer: the count reads as the Support bot page's
    store.add_agent_reply(tickets[0], "Sorry, we only know about bikes.")
    at.run()
    assert "**2 open hand-offs (1 waiting for an agent's reply)**" in [m.value for m in at.markdown]


def test_home_names_the_device_the_same_on_every_visit(home, monkeypatch):
    """It read "auto (CUDA when present)" until another page loaded a model, then "cpu"."""
    from shared.settings import get_settings

    monkeypatch.delenv("VERTICALS_DEVICE", raising=False)
    get_settings.cache_clear()
    at = AppTest.from_file(str(HOME), default_timeout=60).run()
    assert not at.exception
    first = at.markdown[0].value
    device = get_settings().device  # as a page that loads a model resolves it
    at.run()
    assert at.markdown[0].value == first and f"device `{device}`" in first
    assert "auto" not in first
