"""Bi-encoder and cross-encoder tuning: the loss against a hand computation, real runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from shared.contrastive import BiencoderConfig, in_batch_loss, retrieval_metrics, train_biencoder, train_cross_encoder
from shared.errors import DataError

# Made-up product codes the base model cannot know: only tuning can tie a code to its topic.
CODES = ["zorblax", "quimby", "frandle", "plonk", "wexter", "drabble", "snorf", "klemp"]
TOPICS = ["refund", "password reset", "shipping times", "invoice copy",
          "warranty claim", "account login", "delivery address", "discount code"]


def code_pairs(per_code: int) -> list[tuple[str, str]]:
    return [(f"help with {c} case {i}", f"Article: how to handle a {t}")
            for i in range(per_code) for c, t in zip(CODES, TOPICS, strict=True)]


def test_in_batch_loss_matches_a_hand_computation():
    q = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.6, 0.8]]), dim=-1)
    p = torch.nn.functional.normalize(torch.tensor([[1.0, 0.1], [0.0, 1.0]]), dim=-1)
    scores = 20.0 * q @ p.T
    expected = -(torch.log_softmax(scores, 1)[0, 0] + torch.log_softmax(scores, 1)[1, 1]) / 2
    assert torch.isclose(in_batch_loss(q, p, 20.0), expected)
    # a duplicate passage is not a negative: masking it leaves only the query's own column
    same = torch.tensor([[True, True], [True, True]])
    assert torch.isclose(in_batch_loss(q, p, 20.0, same), torch.tensor(0.0), atol=1e-6)


def test_retrieval_metrics_by_hand():
    q = np.array([[1.0, 0.0], [1.0, 0.0]])
    p = np.array([[1.0, 0.0], [0.0, 1.0]])
    # query 0 finds its passage first; query 1's passage ranks second -> MRR (1 + 1/2) / 2
    assert retrieval_metrics(q, p, [{0}, {1}]) == {"recall_at_1": 0.5, "mrr": 0.75}


@pytest.mark.parametrize(("field", "value", "message"), [
    ("max_length", 2, "--max-length must be at least 3 (two tokens mark the text's start and end), got 2"),
    ("warmup_ratio", -0.5, "warmup_ratio must be in [0, 1), got -0.5"),
    ("epochs", 0, "--epochs must be >= 1 and --batch-size >= 2 (in-batch negatives), got 0, 32"),
])
def test_bad_biencoder_config_fields_are_named(field, value, message):
    from shared.errors import VerticalsError

    with pytest.raises(VerticalsError) as err:
        BiencoderConfig(**{field: value})
    assert str(err.value) == message


def test_bad_pairs_are_one_line_errors(home):
    with pytest.raises(DataError, match="need at least 4"):
        train_biencoder([("a", "b")], "bi")
    with pytest.raises(DataError, match="row 2: needs a non-empty query"):
        train_biencoder([("a", "b"), ("", "c"), ("d", "e"), ("f", "g")], "bi")
    with pytest.raises(DataError, match="row 1: label must be 0 or 1"):
        train_cross_encoder(["q", "q"], ["a", "b"], [2, 0], "ce")


def test_biencoder_learns_codes_and_serves_as_embedder(home):
    from shared.embed import Embedder
    from shared.models import load_sentence_model
    from shared.registry import get_registry

    version = train_biencoder(code_pairs(10), "codes", epochs=2, batch_size=16, lr=1e-4,
                              max_length=16, heldout_fraction=0.2)
    card = get_registry().card("codes")
    m = card["metrics"]
    assert version == "v1" and card["kind"] == "biencoder"
    assert m["recall_at_1_after"] > m["recall_at_1_before"] and m["recall_at_1_after"] >= 0.5
    assert m["mrr_after"] > m["mrr_before"]
    assert (get_registry().path("codes") / "model.safetensors").exists()
    # the held-out pairs stay with the version, for `models export` to check agreement on
    from shared.export import kept_texts

    assert m["n_heldout_pairs"] == 16 and len(kept_texts(get_registry().path("codes"), "biencoder")) > 16
    embedder = Embedder("codes")
    assert embedder.max_length == 16 == load_sentence_model(get_registry().path("codes")).max_seq_length
    assert Embedder("minilm").max_length == 256  # the base package's own setting
    q = embedder.encode(["help with plonk case 99"])
    docs = embedder.encode([f"Article: how to handle a {t}" for t in TOPICS])
    assert q.shape == (1, 384) and np.isclose(np.linalg.norm(q), 1.0, atol=1e-4)
    assert int((docs @ q[0]).argmax()) == CODES.index("plonk")  # an unseen query id


def test_a_biencoder_cut_to_its_first_layers_is_registered_and_served_at_that_depth(home):
    from shared.embed import Embedder
    from shared.errors import VerticalsError
    from shared.models import load_sentence_model
    from shared.registry import get_registry

    with pytest.raises(VerticalsError, match="--layers 0: keep at least 1 layer"):
        train_biencoder(code_pairs(2), "shallow", layers=0)
    train_biencoder(code_pairs(2), "shallow", batch_size=8, max_length=16, heldout_fraction=0.25, layers=2)
    card = get_registry().card("shallow")
    assert card["params"]["layers"] == 2 and card["metrics"]["n_heldout_pairs"] == 4
    model = load_sentence_model(get_registry().path("shallow"))
    assert len(model[0].auto_model.encoder.layer) == 2
    assert Embedder("shallow").encode(["help with plonk"]).shape == (1, 384)


def test_cross_encoder_registers_a_pair_classifier(home):
    from shared.classifier import Classifier, load_classifier
    from shared.export import export_model
    from shared.heads import load_classifier_model
    from shared.registry import get_registry

    queries, passages, labels = [], [], []
    for i, (code, topic) in enumerate(zip(CODES, TOPICS, strict=True)):
        for other in (topic, TOPICS[(i + 3) % len(TOPICS)]):
            queries.append(f"how do I get a {topic}")
            passages.append(f"Article about {other} for {code}")
            labels.append(int(other == topic))
    # the support bot's recipe: two layers, query and passage pooled apart, warmed-up head
    version = train_cross_encoder(queries * 2, passages * 2, labels * 2, "rerank",
                                  batch_size=8, max_length=24, layers=2, pooling="pair",
                                  head_warmup=True)
    card = get_registry().card("rerank")
    assert version == "v1" and card["kind"] == "cross_encoder" and card["labels"] == ["0", "1"]
    assert {"accuracy", "macro_f1"} <= set(card["metrics"]) and card["params"]["pooling"] == "pair"
    path = get_registry().path("rerank")
    reference = load_classifier_model(path)  # a fresh load of the saved files: the pair head
    assert reference.pair_pooling and reference.classifier.in_features == 2 * 384
    scores = load_classifier("rerank").predict_proba(queries[:4], pairs=passages[:4])[:, 1]
    assert scores.shape == (4,) and ((scores >= 0) & (scores <= 1)).all()
    torch_logits = Classifier(path).logits(queries, passages)  # before the export exists
    report = export_model(path, queries, check_pairs=passages, int8=False, max_length=24)
    served = Classifier(path)
    assert report["onnx_agreement"] == 1.0 and served.backend_name.endswith(".onnx")
    # the exported graph pools the two sides apart too
    np.testing.assert_allclose(served.logits(queries, passages), torch_logits, atol=1e-4)


def test_keep_better_keeps_the_base_when_tuning_lowers_held_out_mrr(home, monkeypatch):
    import shared.contrastive as contrastive
    from shared.embed import Embedder
    from shared.registry import get_registry

    scores = iter([{"recall_at_1": 0.5, "mrr": 0.6}, {"recall_at_1": 0.25, "mrr": 0.4}])
    monkeypatch.setattr(contrastive, "evaluate_biencoder", lambda model, held: next(scores))
    train_biencoder(code_pairs(2), "worse", lr=1e-3, max_length=16, heldout_fraction=0.25,
                    keep_better=True)
    card = get_registry().card("worse")
    assert card["kept"] == "base" and "0.600 -> 0.400" in card["warning"]
    assert card["metrics"]["mrr_after"] == 0.6 and card["metrics"]["mrr_tuned"] == 0.4  # what it serves
    texts = ["help with plonk case 1", "Article: how to handle a refund"]
    np.testing.assert_allclose(Embedder("worse").encode(texts), Embedder("minilm").encode(texts), atol=1e-5)


def test_held_out_scores_that_say_little_are_noted() -> None:
    from shared.cli import contrastive_notes

    assert contrastive_notes({"n_heldout_pairs": 40, "recall_at_1_before": 0.7}) == []
    easy = contrastive_notes({"n_heldout_pairs": 20, "recall_at_1_before": 1.0})  # 1.0000 before and after
    assert easy == ["the base already ranks 100% of the held-out queries' passages first: too easy a test to "
                    "show what tuning adds — more pairs, or passages alike, make a harder one"]
    assert contrastive_notes({"n_heldout_pairs": 2})[0].startswith("only 2 held-out pair(s)")
