from __future__ import annotations

import json
import shutil

import numpy as np

from shared import backends, export
from shared.backends import export_dir
from shared.classifier import Classifier, load_classifier
from shared.data import read_table
from shared.export import export_model

from .conftest import toy_rows


def test_int8_and_onnx_agree_with_torch_and_serve(full_model, session_registry, tmp_path):
    # a copy, so the session's model stays torch-only for the other tests
    path = shutil.copytree(session_registry.path("toy-full"), tmp_path / "toy-full")
    texts = read_table(path / "eval.csv", ["text"])["text"].tolist()
    assert load_classifier(path).backend_name == "torch"
    report = export_model(path, texts, int8=True)
    assert report["max_length"] == 24 == load_classifier(path).max_length  # checked as it serves
    # the cache sees the new export (which form serves depends on the machine's speeds)
    assert load_classifier(path).backend_name in ("model.onnx", "model.int8.onnx", "torch-bf16")
    assert report["onnx_agreement"] == 1.0  # ONNX fp32 is lossless
    assert report["cpu"] == export.cpu_name() != ""  # speeds mean nothing without their CPU
    assert report["int8_agreement"] >= 0.95
    # bf16 is measured only where the CPU multiplies it natively (elsewhere it is 7x slower)
    assert report["bf16_agreement"] >= 0.95 if export.native_bf16() else "bf16_agreement" not in report
    assert json.loads((path / "export" / "report.json").read_text()) == report
    served = Classifier(path)
    assert served.backend_name in ("model.onnx", "model.int8.onnx", "torch-bf16")
    # int8 scales each batch by its own range; the lossless form gives a text the same
    # probabilities alone as in any batch
    lossless = Classifier(path, lossless=True)
    assert lossless.backend_name == "model.onnx"
    together = lossless.predict_proba(texts[:12])
    alone = np.concatenate([lossless.predict_proba(t) for t in texts[:12]])
    assert np.abs(together - alone).max() < 1e-5
    rows = toy_rows(40, 7)
    accuracy = sum(p == r.label for p, r in zip(served.predict([r.text for r in rows]), rows)) / len(rows)
    assert accuracy >= 0.9


def test_embedder_export_matches_sentence_transformers(home, tmp_path):
    import numpy as np

    from shared.embed import Embedder
    from shared.models import resolve_model

    texts = ["refund my order", "where is my parcel", "reset my password please"] * 4
    reference = Embedder("minilm").encode(texts)
    report = export_model(resolve_model("minilm"), texts, embed=True, int8=False)
    assert report["onnx_agreement"] == 1.0 and report["max_length"] == 256
    fast = Embedder("minilm")
    fast.warm_up()
    assert fast.backend_name.endswith(".onnx")
    np.testing.assert_allclose(fast.encode(texts), reference, atol=1e-4)
    # where bf16 measured fastest and agreed, the cast torch weights serve (no file needed)
    report_path = export_dir(resolve_model("minilm")) / "report.json"
    report_path.write_text(json.dumps({**report, "bf16_agreement": 1.0, "bf16_texts_per_s": 1e9}))
    bf16 = Embedder("minilm")
    assert bf16.backend_name == "torch-bf16"
    assert ((bf16.encode(texts) * reference).sum(1) >= 0.99).all()


def test_pair_export_is_checked_and_served_on_pairs(full_model, session_registry, tmp_path):
    import numpy as np
    import pytest

    from shared.errors import VerticalsError

    path = shutil.copytree(session_registry.path("toy-full"), tmp_path / "pairs")
    texts = [r.text for r in toy_rows(12, 3)]
    pairs = [r.text for r in toy_rows(12, 4)]
    with pytest.raises(VerticalsError, match="12 check texts but 2 pairs"):
        export_model(path, texts, check_pairs=pairs[:2], int8=False)
    reference = Classifier(path).logits(texts, pairs)  # torch, before the export exists
    report = export_model(path, texts, check_pairs=pairs, int8=False, max_length=48)
    assert report["check_pairs"] is True and report["onnx_agreement"] == 1.0
    served = Classifier(path)
    assert served.backend_name.endswith(".onnx")
    np.testing.assert_allclose(served.logits(texts, pairs), reference, atol=1e-4)


def test_serving_takes_the_fastest_form_that_agreed(tmp_path):
    folder = tmp_path / "model" / "export"
    folder.mkdir(parents=True)
    (tmp_path / "model" / "card.json").write_text("{}")
    for name in ("model.onnx", "model.int8.onnx"):
        (folder / name).write_text("")

    def served(lossless: bool = False, **report) -> str | None:
        (folder / "report.json").write_text(json.dumps(report))
        return backends.best_form(tmp_path / "model", lossless)

    fast_int8 = {"onnx_texts_per_s": 80.0, "int8_texts_per_s": 95.0}
    assert served(onnx_agreement=1.0, int8_agreement=0.995, **fast_int8) == "int8"
    assert served(onnx_agreement=1.0, int8_agreement=0.97, **fast_int8) == "onnx"
    slow_int8 = {"onnx_texts_per_s": 80.0, "int8_texts_per_s": 70.0}
    assert served(onnx_agreement=1.0, int8_agreement=1.0, **slow_int8) == "onnx"
    assert served(onnx_agreement=0.9, int8_agreement=0.9, **fast_int8) is None  # torch serves
    bf16 = {"bf16_agreement": 0.998, "bf16_texts_per_s": 150.0}  # no file: cast at load
    assert served(onnx_agreement=1.0, int8_agreement=1.0, **fast_int8, **bf16) == "bf16"
    assert served(True, onnx_agreement=1.0, int8_agreement=1.0, **fast_int8, **bf16) == "onnx"
    # one text at a time another form may be faster (bf16's per-call cost): ranked apart
    single = {"onnx_single_per_s": 270.0, "bf16_single_per_s": 140.0}
    assert served(True, onnx_agreement=1.0, **bf16, **single) == "onnx"
    (folder / "report.json").write_text(json.dumps({"onnx_agreement": 1.0, **bf16, **single,
                                                    "onnx_texts_per_s": 80.0}))
    assert backends.best_form(tmp_path / "model") == "bf16"
    assert backends.best_form(tmp_path / "model", single=True) == "onnx"
    (folder / "model.int8.onnx").unlink()
    assert served(onnx_agreement=1.0, int8_agreement=1.0, **fast_int8) == "onnx", "int8 file gone"
    # an export of the other kind is never served: an embedding graph gives no logits
    served(onnx_agreement=1.0, kind="embedder", onnx_texts_per_s=80.0)
    assert backends.best_backend(tmp_path / "model") is None


def test_small_batches_go_to_the_form_fastest_one_at_a_time():
    import numpy as np

    from shared.backends import BySize

    class Fake:
        def __init__(self, name: str) -> None:
            self.name = name

        def __call__(self, encoded: dict) -> np.ndarray:
            return np.full((len(encoded["input_ids"]), 1), 1.0 if self.name == "small" else 2.0)

    backend = BySize(Fake("small"), Fake("big"))
    assert backend.name == "big"
    assert backend({"input_ids": np.zeros((1, 5))})[0, 0] == 1.0
    assert backend({"input_ids": np.zeros((BySize.SMALL_BATCH + 1, 5))})[0, 0] == 2.0


def test_int8_can_keep_the_feed_forward_outputs_in_fp32(home, tmp_path):
    import onnx
    from transformers import AutoTokenizer

    from shared.backends import OnnxBackend
    from shared.export import _ffn_outputs, _quantize
    from shared.models import resolve_model

    texts = ["refund my order", "where is my parcel", "my card payment was declined twice today"]
    export_model(resolve_model("minilm"), texts, embed=True, int8=False)
    source = export_dir(resolve_model("minilm")) / "model.onnx"
    kept = _ffn_outputs(source)
    assert len(kept) == 6 and all("/output/dense/" in name for name in kept)  # one per layer
    _quantize(source, tmp_path / "all.onnx")
    _quantize(source, tmp_path / "kept.onnx", kept)
    float_matmuls = {n.name for n in onnx.load(str(tmp_path / "kept.onnx")).graph.node if n.op_type == "MatMul"}
    assert set(kept) <= float_matmuls
    assert not set(kept) & {n.name for n in onnx.load(str(tmp_path / "all.onnx")).graph.node}
    encoded = dict(AutoTokenizer.from_pretrained(resolve_model("minilm"))(texts, padding=True, return_tensors="np"))
    reference = OnnxBackend(source)(encoded)
    cosine = {form: (reference * OnnxBackend(tmp_path / f"{form}.onnx", threads=1)(encoded)).sum(1)
              for form in ("all", "kept")}
    assert cosine["kept"].mean() >= cosine["all"].mean() and cosine["kept"].min() >= 0.99


def test_a_long_encode_shows_progress(home, monkeypatch, capsys):
    import shared.embed
    from shared.embed import Embedder
    from shared.progress import logging_only

    monkeypatch.setattr(shared.embed, "PROGRESS_FROM", 10)
    embedder = Embedder("minilm")
    embedder.warm_up()
    capsys.readouterr()  # the weights' own loading bar
    embedder.encode(["a short text"] * 9)
    assert "100%" not in capsys.readouterr().err
    embedder.encode(["a short text"] * 10)
    assert "100%" in capsys.readouterr().err
    with logging_only():  # a scheduler's loop: its stderr is a log
        embedder.encode(["a short text"] * 10)
    assert "100%" not in capsys.readouterr().err
