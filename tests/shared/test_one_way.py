"""One-way pair models: the cached serving path against the joined sequence, training, serving."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from shared.errors import VerticalsError
from shared.one_way import FIRSTS_PER_CHUNK, OnnxStages, TorchStages, encode_one_way, one_way_logits, one_way_mask

PROFILES = [f"Recently enjoyed: {a} | {b}" for a in ("Alien (1979)", "Heat (1995)", "Up (2009)",
                                                    "Jaws (1975)", "Big (1988)")
            for b in ("Fargo (1996)", "Clue (1985)", "Rocky (1976)", "Tron (1982)")]


@pytest.fixture(scope="module")
def fresh():
    """MiniLM's first 2 layers as a one-way classifier with a fresh head, and its tokenizer."""
    from transformers import AutoConfig, AutoTokenizer

    from shared.heads import MeanPoolClassifier
    from shared.models import resolve_model

    path = resolve_model("minilm")
    config = AutoConfig.from_pretrained(path, num_labels=2, num_hidden_layers=2)
    config.one_way = True
    return MeanPoolClassifier.from_pretrained(path, config=config).eval(), AutoTokenizer.from_pretrained(path)


def test_the_mask_hides_the_second_text_from_the_first():
    # [CLS] a [SEP] | b [SEP] | pad: types 0 0 0 1 1 0, mask 1 1 1 1 1 0
    mask, types = torch.tensor([[1, 1, 1, 1, 1, 0]]), torch.tensor([[0, 0, 0, 1, 1, 0]])
    seen = one_way_mask(mask, types, torch.float32)[0, 0] == 0
    assert seen[:3].tolist() == [[True, True, True, False, False, False]] * 3  # first: itself only
    assert seen[3:5].tolist() == [[True, True, True, True, True, False]] * 2  # second: both


def test_cached_scores_equal_the_joined_sequence_in_any_batching(fresh):
    model, tokenizer = fresh
    rng = np.random.default_rng(0)
    # more distinct profiles than one chunk holds, each with several items, in shuffled order
    firsts = [PROFILES[i] for i in rng.integers(len(PROFILES), size=60)]
    seconds = [f"Film {i} ({1950 + i}). Genres: {'Drama' if i % 2 else 'Comedy, Romance'}" for i in range(60)]
    assert len(set(firsts)) > FIRSTS_PER_CHUNK
    with torch.inference_mode():
        joined = model(**encode_one_way(tokenizer, firsts, seconds, 32)).logits.numpy()
    stages = TorchStages(model)
    for batch_size in (1, 7, 64):
        np.testing.assert_allclose(one_way_logits(stages, tokenizer, firsts, seconds, 32, batch_size),
                                   joined, atol=1e-5)
    assert one_way_logits(stages, tokenizer, [], [], 32).shape == (0, 2)
    # a first text longer than max_length is cut on its own: its pairs still share one encoding
    long = ["liked " + "Casablanca (1942) | " * 40] * 3
    with torch.inference_mode():
        joined = model(**encode_one_way(tokenizer, long, seconds[:3], 32)).logits.numpy()
    np.testing.assert_allclose(one_way_logits(stages, tokenizer, long, seconds[:3], 32), joined, atol=1e-5)


def test_one_way_needs_mean_pooling_pairs_and_room_for_both_sides():
    from shared.finetune import TrainConfig, train_classifier

    with pytest.raises(VerticalsError, match="use pooling='mean', got 'cls'"):
        TrainConfig(pair_attention="one-way", pooling="cls")
    with pytest.raises(VerticalsError, match="pair_attention must be 'both' or 'one-way'"):
        TrainConfig(pair_attention="sideways")
    with pytest.raises(VerticalsError, match="reads text pairs"):
        train_classifier(["a", "b"], ["x", "y"], TrainConfig(pair_attention="one-way"), progress=False)
    with pytest.raises(VerticalsError, match="use 256 or fewer"):
        train_classifier(["a", "b"], ["x", "y"], TrainConfig(pair_attention="one-way", max_length=300),
                         pairs=["c", "d"], progress=False)


def test_a_trained_one_way_cross_encoder_serves_its_stages_in_torch_and_onnx(home):
    from shared.classifier import Classifier
    from shared.contrastive import train_cross_encoder
    from shared.export import export_model
    from shared.heads import load_classifier_model
    from shared.registry import get_registry

    firsts = [p for p in PROFILES for _ in range(2)]
    seconds = [f"{p.split(': ')[1].split(' |')[0]} sequel" if i % 2 else "Cats (2019)"
               for i, p in enumerate(firsts)]
    labels = [i % 2 for i in range(len(firsts))]
    train_cross_encoder(firsts, seconds, labels, "interest", epochs=1, batch_size=8, max_length=32,
                        layers=2, pooling="mean", head_warmup=True, pair_attention="one-way")
    card, path = get_registry().card("interest"), get_registry().path("interest")
    assert card["params"]["pair_attention"] == "one-way"
    served = Classifier(path)
    assert served.backend_name == "torch-one-way"  # no export yet
    with torch.inference_mode():  # a fresh load of the saved files, run on the joined sequence
        joined = load_classifier_model(path)(**encode_one_way(served.tokenizer, firsts, seconds, 32)).logits
    np.testing.assert_allclose(served.logits(firsts, seconds), joined.numpy(), atol=1e-5)
    with pytest.raises(VerticalsError, match="one-way pair model: it scores"):
        served.predict_proba(firsts)
    with pytest.raises(VerticalsError, match="one-way pair model: check its export on pairs"):
        export_model(path, firsts)
    report = export_model(path, firsts, check_pairs=seconds)
    assert report["kind"] == "one_way" and report["onnx_agreement"] == 1.0 and report["cpu"]
    assert report["onnx_max_abs_diff"] < 1e-4
    # the graphs take other shapes than they were traced with: more pairs, longer texts
    onnx = OnnxStages(path / "export", labels=2)
    longer = [s + " Genres: Drama, Thriller, Crime, Mystery" for s in seconds]
    np.testing.assert_allclose(one_way_logits(onnx, served.tokenizer, firsts, longer, 32),
                               one_way_logits(TorchStages(load_classifier_model(path)), served.tokenizer,
                                              firsts, longer, 32), atol=1e-4)
    fresh = Classifier(path)  # serves the export, which agreed
    assert fresh.backend_name == "onnx-one-way"
    np.testing.assert_allclose(fresh.logits(firsts, seconds), joined.numpy(), atol=1e-4)
    assert export_model(path, firsts[:1], check_pairs=seconds[:1])["onnx_agreement"] == 1.0  # one pair


def test_one_way_stages_serve_only_where_verdicts_and_logits_agreed(tmp_path):
    from shared.backends import _fastest
    from shared.one_way import FIRST_FILE, SECOND_FILE

    for name in (FIRST_FILE, SECOND_FILE):
        (tmp_path / name).write_bytes(b"")
    report = {"kind": "one_way", "onnx_agreement": 1.0, "onnx_max_abs_diff": 1e-6}
    assert _fastest(report, tmp_path, lossless=True, single=False) == "onnx"
    assert _fastest(report | {"onnx_max_abs_diff": 0.01}, tmp_path, True, False) is None
    assert _fastest(report | {"onnx_agreement": 0.98}, tmp_path, True, False) is None
    (tmp_path / FIRST_FILE).unlink()
    assert _fastest(report, tmp_path, True, False) is None


def test_a_one_layer_one_way_model_exports_and_serves_in_onnx(tmp_path):
    """One layer's keys and values come straight from the embeddings: its first stage's ONNX
    graph has no attention mask input, and serving must not feed one."""
    from transformers import AutoConfig, AutoTokenizer

    from shared.heads import MeanPoolClassifier
    from shared.models import resolve_model
    from shared.one_way import export_one_way

    path = resolve_model("minilm")
    config = AutoConfig.from_pretrained(path, num_labels=2, num_hidden_layers=1)
    config.one_way = True
    model = MeanPoolClassifier.from_pretrained(path, config=config).eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    seconds = [f"Film {i} ({1950 + i})" for i in range(len(PROFILES))]
    report = export_one_way(model, tokenizer, tmp_path, PROFILES, seconds, 32)
    assert report["onnx_agreement"] == 1.0
    served = one_way_logits(OnnxStages(tmp_path, 2), tokenizer, PROFILES, seconds, 32)
    np.testing.assert_allclose(served, one_way_logits(TorchStages(model), tokenizer, PROFILES, seconds, 32), atol=1e-4)
