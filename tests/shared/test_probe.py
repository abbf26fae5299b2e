"""The linear probe a classifier can average in (shared.probe)."""

from __future__ import annotations

import numpy as np
import pytest

from shared.errors import VerticalsError
from shared.probe import HEAD_FILE, EmbeddingHead

from .conftest import toy_rows


@pytest.mark.parametrize("classes", [["a", "b"], ["a", "b", "c"]])
def test_the_probe_scores_in_the_classifiers_label_order(classes, tmp_path) -> None:
    rng = np.random.default_rng(0)
    centres = np.eye(4)[: len(classes)] * 3
    vectors = np.vstack([c + rng.normal(0, 0.3, (20, 4)) for c in centres]).astype(np.float32)
    labels = [c for c in classes for _ in range(20)]
    order = ["unseen", *reversed(classes)]  # the classifier's order, with a label the probe never saw
    head = EmbeddingHead.fit(vectors, labels, order, "minilm")
    probs = head.proba(centres)
    assert probs.shape == (len(classes), len(order)) and np.allclose(probs.sum(1), 1)
    assert [order[i] for i in probs.argmax(1)] == classes and probs[:, 0].max() < 1e-6
    head.save(tmp_path)
    again = EmbeddingHead.load(tmp_path)
    assert again.embedder == "minilm" and np.allclose(again.proba(centres), probs)
    assert EmbeddingHead.load(tmp_path / "missing") is None


def test_a_classifier_with_a_probe_serves_the_average(tmp_path) -> None:
    from shared import Embedder, Registry, TrainConfig, finetune_classifier, load_classifier

    registry = Registry(tmp_path)
    config = TrainConfig(epochs=1, batch_size=8, max_length=24, embedding_head="minilm")
    result = finetune_classifier(toy_rows(64, 0), toy_rows(24, 1), config, "toy-probe", registry=registry)
    path = registry.path("toy-probe")
    assert (path / HEAD_FILE).exists() and 0 <= result.metrics["model_accuracy"] <= 1
    assert registry.card("toy-probe")["params"]["embedding_head"] == "minilm"  # what a retrain reads
    classifier = load_classifier(path)
    texts = [r.text for r in toy_rows(6, 2)]
    own = classifier.model_proba(texts)
    vectors = Embedder("minilm").encode(texts)
    expected = 0.5 * own + 0.5 * classifier.head.proba(vectors)
    assert np.allclose(classifier.predict_proba(texts), expected, atol=1e-4)  # it embeds them itself
    assert np.allclose(classifier.predict_proba(texts, vectors=vectors), expected, atol=1e-6)
    with pytest.raises(VerticalsError, match="reads one text, not a pair"):
        finetune_classifier(toy_rows(8, 0), None, config, "toy-pairs", registry=registry,
                            train_pairs=["x"] * 8)


def test_a_registry_embedder_is_pinned_to_the_version_fitted_on(tmp_path) -> None:
    from shared import Registry, TrainConfig, finetune_classifier
    from shared.errors import ModelNotFoundError, RegistryError
    from shared.probe import pinned

    registry = Registry(tmp_path)
    (tmp_path / "retriever" / "v2").mkdir(parents=True)
    (tmp_path / "retriever" / "CURRENT").write_text("v2")
    assert pinned("retriever", registry) == "retriever@v2"
    assert pinned("minilm", registry) == "minilm" and pinned("retriever@v1", registry) == "retriever@v1"
    config = TrainConfig(epochs=1, embedding_head="no-such-embedder")
    with pytest.raises((ModelNotFoundError, RegistryError, VerticalsError)):  # before any training
        finetune_classifier(toy_rows(8, 0), None, config, "toy-bad", registry=registry)
