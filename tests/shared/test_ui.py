"""Text shown through the dashboards' Markdown: literal where it must be, formatted where kept."""

from __future__ import annotations

import pytest

from shared.ui import markdown_text


@pytest.mark.parametrize(("text", "shown"), [
    ("*Cheap* eats for $5", "\\*Cheap\\* eats for \\$5"),
])
def test_plain_text_reads_literally(text: str, shown: str) -> None:
    assert markdown_text(text) == shown


@pytest.mark.parametrize(("text", "shown"), [
    ("**Gift wrapping** costs $4.99, 3~5 days", "**Gift wrapping** costs \\$4.99, 3\\~5 days"),
    ("See [our shop](https://x.test) ![logo](https://t.test/p.png)",
     "See our shop (https://x.test) logo (https://t.test/p.png)"),
    ("[the guide][g]\n\n[g]: https://t.test", "\\[the guide\\]\\[g\\]\n\n\\[g\\]: https://t.test"),
    ("<https://t.test>", "\\<https://t.test>"),
    ("> Note: keep the receipt", "> Note: keep the receipt"),  # a quote stays a quote
    ("Type \\[brackets\\] and \\$", "Type \\[brackets\\] and \\$"),  # escaped by the author
    ("a\\\\[x][g]", "a\\\\\\[x\\]\\[g\\]"),  # an escaped backslash does not escape the bracket
])
def test_kb_markdown_keeps_formatting_but_forms_no_link_image_or_latex(text: str, shown: str) -> None:
    assert markdown_text(text, keep_formatting=True) == shown


# the demo's bi-encoder: tuning lowered the held-out MRR, so its version serves the base's weights
KEPT_BASE_CARD = {"kind": "biencoder", "kept": "base", "metrics": {
    "recall_at_1_before": 0.1562, "mrr_before": 0.3165, "recall_at_1_after": 0.1562, "mrr_after": 0.3165,
    "n_train_pairs": 293, "n_heldout_pairs": 32, "recall_at_1_tuned": 0.125, "mrr_tuned": 0.2732}}


def test_a_biencoder_that_kept_the_base_names_the_serving_and_the_rejected_figures() -> None:
    from shared.ui import LABELS, card_labels, card_metrics, metric_label

    shown = card_metrics(KEPT_BASE_CARD)
    labels = card_labels(KEPT_BASE_CARD)
    assert [labels[k][0] for k in shown] == [
        "Recall@1 (base, serving)", "MRR (base, serving)", "Recall@1 (rejected tuning)", "MRR (rejected tuning)",
        "Training pairs", "Held-out pairs"], "no 'before' tile repeating the serving figures"
    assert "base model's" in labels["mrr_after"][1] and "did not keep" in labels["mrr_tuned"][1]
    assert not any("after tuning" in h or "passage" in h for _, h in labels.values())
    assert metric_label("recall_at_1_after", KEPT_BASE_CARD) == "Recall@1 (base, serving)"  # the registry table
    # a version that kept its tuning reads as before
    tuned = {"kind": "biencoder", "kept": "tuned", "metrics": {"recall_at_1_after": 0.9, "recall_at_1_before": 0.5}}
    assert card_labels(tuned) is LABELS and card_metrics(tuned) == tuned["metrics"]
    assert metric_label("recall_at_1_after", tuned) == "Recall@1" and "tuned weights" in LABELS["mrr_after"][1]


def test_a_rankers_card_reads_in_words() -> None:
    from shared.ui import metric_label

    assert metric_label("val_auc_co_taken") == "AUC, co taken alone"
    assert metric_label("val_offer_recall") == "Offer recall" and metric_label("val_rows") == "Validation rows"
    assert metric_label("some_new_key") == "some new key"


def test_per_class_report_leaves_out_classes_neither_tested_nor_predicted() -> None:
    from shared.evaluate import classification_metrics
    from shared.ui import metric_label, per_class_table, untested_predictions

    metrics = classification_metrics(["a", "a", "b"], ["a", "c", "b"], labels=["a", "b", "c", "kb"])
    assert list(per_class_table(metrics).index) == ["a", "b", "c"]  # c was predicted: its 0 precision counts
    assert untested_predictions(metrics) == {"c": 1}  # and the page says why its row is 0
    assert per_class_table({"accuracy": 1.0}) is None
    assert metric_label("model_accuracy") == "Accuracy, model alone"


def test_a_damaged_card_is_one_rows_warning_not_the_pages_error(tmp_path) -> None:
    from shared.registry import Registry
    from shared.ui import registry_rows

    registry = Registry(tmp_path)
    registry.save("good", lambda d: None, {"kind": "classifier", "metrics": {"accuracy": 0.9}})
    registry.save("bad", lambda d: None, {"kind": "classifier"})
    (tmp_path / "bad" / "v1" / "card.json").write_text("{bad")
    rows = {row["model"]: row for row in registry_rows(registry)}
    assert rows["good"]["kind"] == "classifier" and "unreadable card" in rows["bad"]["warnings"]
