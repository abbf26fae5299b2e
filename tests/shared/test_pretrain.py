"""Masked-LM pretraining: the masking maths, and a real run that lowers held-out loss."""

from __future__ import annotations

import math

import pytest
import torch

from shared.errors import VerticalsError
from shared.pretrain import PretrainConfig, mask_tokens, pretrain_mlm, split_heldout

# A tiny "domain" whose vocabulary a general sentence model has little reason to predict.
SUBJECTS = ["the bank", "our lender", "the credit union", "this broker"]
VERBS = ["raised", "cut", "froze", "doubled"]
OBJECTS = ["the overdraft fee", "mortgage rates", "the loan margin", "card interest"]


def corpus(n: int) -> list[str]:
    return [
        f"{SUBJECTS[i % 4]} {VERBS[(i // 4) % 4]} {OBJECTS[(i // 16) % 4]} this quarter"
        for i in range(n)
    ]


def test_mask_tokens_follows_the_bert_recipe():
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, 2000, (64, 64), generator=gen)
    special = torch.zeros_like(ids, dtype=torch.bool)
    special[:, 0] = special[:, -8:] = True  # [CLS] and padding are never targets
    inputs, labels = mask_tokens(ids, special, 0.15, mask_id=103, vocab_size=30522, generator=gen)
    picked = labels != -100
    assert not picked[special].any()
    assert torch.equal(labels[picked], ids[picked])
    assert torch.equal(inputs[~picked], ids[~picked])  # only targets are touched
    rate = picked.sum().item() / (~special).sum().item()
    assert 0.12 < rate < 0.18
    masked = (inputs[picked] == 103).float().mean().item()
    assert 0.7 < masked < 0.9  # ~80% [MASK], the rest random or kept


def test_heldout_split_is_deterministic_and_disjoint():
    texts = [f"t{i}" for i in range(50)]
    train, held = split_heldout(texts, 0.1, seed=3)
    assert len(held) == 5 and not set(train) & set(held) and sorted(train + held) == sorted(texts)
    assert split_heldout(texts, 0.1, seed=3) == (train, held)


def test_bad_inputs_say_what_to_do(home):
    with pytest.raises(VerticalsError, match="at least 2 non-empty texts"):
        pretrain_mlm(["only one", "  "], "enc")
    with pytest.raises(VerticalsError, match="mlm_probability must be in"):
        PretrainConfig(mlm_probability=1.5)


def test_too_little_held_out_text_gives_no_perplexity_rather_than_a_perfect_one(home):
    from shared.registry import get_registry

    pretrain_mlm(["Profit rose.", "Sales fell."], "two-lines", max_length=16)
    metrics = get_registry().card("two-lines")["metrics"]  # no held-out token was masked: it read 0.0 and 1.0
    assert metrics["mlm_loss_after"] is None and metrics["perplexity_after"] is None


def test_pretraining_lowers_heldout_loss_and_loads_everywhere(home):
    from safetensors.torch import load_file
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModelForSequenceClassification

    from shared.models import resolve_model
    from shared.registry import get_registry

    version = pretrain_mlm(corpus(48), "bank-enc", epochs=2, batch_size=16, max_length=16, lr=2e-4)
    card = get_registry().card("bank-enc")
    assert version == "v1" and card["kind"] == "encoder" and card["base"] == "minilm"
    metrics = card["metrics"]
    assert metrics["mlm_loss_after"] < metrics["mlm_loss_before"]
    assert metrics["perplexity_after"] < metrics["perplexity_before"]
    # the head trained alone (the fair "before") has learnt: better than guessing among the vocabulary
    assert math.log(30522) > metrics["mlm_loss_base_encoder"] > 0
    path = resolve_model("bank-enc")
    from shared.export import kept_texts  # the held-out texts stay, for `models export`

    assert len(kept_texts(path, "encoder")) == metrics["n_heldout_texts"] > 0
    clf = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)
    base = load_file(resolve_model("minilm") / "model.safetensors")
    # the pooler comes from the base (the MLM model has none); the encoder itself has moved
    assert torch.equal(clf.bert.pooler.dense.weight, base["pooler.dense.weight"])
    assert not torch.equal(clf.bert.encoder.layer[0].attention.self.query.weight,
                           base["encoder.layer.0.attention.self.query.weight"])
    vectors = SentenceTransformer(str(path), device="cpu").encode(["the bank cut fees"])
    assert vectors.shape == (1, 384)


def test_a_depth_the_base_lacks_is_refused_before_any_training(home, monkeypatch):
    import shared.pretrain

    monkeypatch.setattr(shared.pretrain, "_load_mlm", lambda *a: pytest.fail("loaded before refusing"))
    with pytest.raises(VerticalsError, match="--layers 7: the base 'minilm' has only 6 layers; use 6 or fewer"):
        pretrain_mlm(corpus(40), "deep-enc", layers=7)


def test_a_corpus_of_a_few_batches_still_reports_the_head_only_baseline(home):
    from shared.registry import get_registry

    pretrain_mlm(corpus(40), "few-enc", epochs=1, batch_size=16, max_length=16)
    metrics = get_registry().card("few-enc")["metrics"]
    assert metrics["mlm_loss_base_encoder"] > 0  # 2 batches: the head alone cycles them
