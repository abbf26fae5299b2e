"""Serving the fast CPU forms that :mod:`shared.export` wrote: an ONNX graph through
onnxruntime, the bf16 cast of the torch weights, or torch itself, behind one call
(``backend(encoded) -> np.ndarray``). :func:`best_backend` picks the fastest form measured among
those that agreed with torch on >= 99% of the check texts; torch (None) when none agreed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .errors import RegistryError

INPUTS = ["input_ids", "attention_mask", "token_type_ids"]
MIN_AGREEMENT = 0.99
MAX_ONE_WAY_DIFF = 1e-3  # the largest logit difference a one-way model's ONNX stages may show
FILES = {"onnx": "model.onnx", "int8": "model.int8.onnx", "bf16": None}  # bf16: cast at load
# outputs depend on the batch: int8 scales by each batch's range; bf16 rounds to 3 digits and a
# text's logits moved by up to 0.004 between batch compositions (demo cross-encoder)
LOSSY = ("int8", "bf16")


class KeywordCall(torch.nn.Module):
    """Calls a HF model with keyword arguments (positional tracing mixes up its inputs)."""

    def __init__(self, model: torch.nn.Module, embed: bool) -> None:
        super().__init__()
        self.model, self.embed = model, embed

    def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: D102
        out = self.model(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        )
        if not self.embed:
            return out.logits
        # mean pooling + L2 norm, as the sentence-transformers MiniLM pipeline does (in fp32:
        # a bf16 sum over the tokens would round away what the mean is for)
        hidden = out.last_hidden_state.float()
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)


class OnnxBackend:
    """Runs an exported graph with onnxruntime: ``backend(encoded) -> np.ndarray``."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # subtle: after each run a session's threads spin, waiting for more work; an answer
        # runs three sessions in turn (intents, embedder, reranker), and on 2 cores each one's
        # spinning starved the next (search + rerank p50 46 ms with spinning, 30 ms without, on
        # an AMX Xeon)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads:  # None: one per core (onnxruntime's default)
            options.intra_op_num_threads = threads
        self.path, self.name = path, path.name
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.names = {i.name for i in self.session.get_inputs()}

    def __call__(self, encoded: dict) -> np.ndarray:
        feed = {k: np.asarray(v, dtype=np.int64) for k, v in encoded.items() if k in self.names}
        if "token_type_ids" in self.names and "token_type_ids" not in feed:
            feed["token_type_ids"] = np.zeros_like(feed["input_ids"])
        return self.session.run(None, feed)[0]


class TorchBackend:
    """The plain torch model behind the same call: ``backend(encoded) -> np.ndarray``; with
    ``dtype=torch.bfloat16`` the served bf16 form (outputs come back as float32)."""

    def __init__(self, model: torch.nn.Module, device: str, embed: bool = False,
                 dtype: torch.dtype | None = None) -> None:
        self.module = KeywordCall(model.to(device=device, dtype=dtype).eval(), embed).eval()
        self.device = device
        self.name = "torch" if dtype is None else "torch-bf16"

    def __call__(self, encoded: dict) -> np.ndarray:
        batch = {k: torch.as_tensor(np.asarray(v, dtype=np.int64), device=self.device) for k, v in encoded.items()}
        if "token_type_ids" not in batch:
            batch["token_type_ids"] = torch.zeros_like(batch["input_ids"])
        with torch.inference_mode():
            return self.module(**batch).float().cpu().numpy()


def export_dir(model_dir: Path) -> Path:
    """Where the fast forms of ``model_dir`` live: inside it, or under home for package models.

    subtle: outside the registry, many model folders share a name (the base package's is
    ``model``), so the folder is keyed by the model's resolved path as well as its name.
    """
    import hashlib

    from .settings import get_settings

    if (model_dir / "card.json").exists():
        return model_dir / "export"
    key = hashlib.sha256(str(Path(model_dir).resolve()).encode()).hexdigest()[:10]
    return get_settings().home / "exports" / f"{Path(model_dir).name}-{key}"


def load_torch(model_dir: Path, embed: bool, **options: object) -> torch.nn.Module:
    """The torch model in eval mode: the bare encoder (``embed``) or the classifier with its head."""
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    from .heads import load_classifier_model

    hf_logging.set_verbosity_error()
    loader = AutoModel.from_pretrained if embed else load_classifier_model
    try:
        return loader(model_dir, **options).eval()
    except OSError as exc:  # subtle: a version whose weights file was deleted was a 60-line traceback
        if not (isinstance(exc, FileNotFoundError) or "no file named" in str(exc)):
            raise  # permissions, a failing disk: no folder to remove
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RegistryError(f"{model_dir}: cannot load the model ({problem}) — its files are incomplete: "
                            "retrain it, or remove that version's folder") from None


def best_backend(model_dir: Path, lossless: bool = False, threads: int | None = None,
                 embed: bool = False) -> OnnxBackend | TorchBackend | BySize | None:
    """The backend of :func:`best_form`, or None (use plain torch); where another form is faster
    on one text at a time, a :class:`BySize` that hands it the small batches. ``threads`` caps
    an onnxruntime form's intra-op threads (torch's are process-wide). An export of the other
    kind (``embed``: sentence vectors, else logits) is never served."""
    report, folder = export_report(model_dir), export_dir(model_dir)
    if report.get("kind") and (report["kind"] == "embedder") != embed:
        return None
    batch_form = _fastest(report, folder, lossless, single=False)
    if batch_form is None:
        return None
    single_form = _fastest(report, folder, lossless, single=True)
    batch = _backend(model_dir, batch_form, report, threads)
    if single_form == batch_form:
        return batch
    return BySize(_backend(model_dir, single_form, report, threads), batch)


def _backend(model_dir: Path, form: str, report: dict, threads: int | None = None) -> OnnxBackend | TorchBackend:
    if form == "bf16":
        embed = report.get("kind") == "embedder"
        return TorchBackend(load_torch(model_dir, embed), "cpu", embed, torch.bfloat16)
    return OnnxBackend(export_dir(model_dir) / FILES[form], threads)


class BySize:
    """Two forms behind one call: ``small`` for batches of up to ``SMALL_BATCH`` inputs, ``big``
    above.

    subtle: on a CPU with AMX, bf16 ran 600 texts/s in batches of 64 against ONNX's 210, but one
    text at a time 144/s against 271 (the support bot's question embedder); they cross near 4
    texts. Without native bf16 the export does not offer it, and one form serves both."""

    SMALL_BATCH = 4

    def __init__(self, small: OnnxBackend | TorchBackend, big: OnnxBackend | TorchBackend) -> None:
        self.small, self.big = small, big
        self.name = big.name  # what serves the batches: the throughput figures are its

    def __call__(self, encoded: dict) -> np.ndarray:
        rows = len(encoded["input_ids"])
        return (self.small if rows <= self.SMALL_BATCH else self.big)(encoded)


def best_form(model_dir: Path, lossless: bool = False, single: bool = False) -> str | None:
    """The fastest form (``"onnx"``, ``"int8"`` or ``"bf16"``) that passed its agreement check,
    in batches or, with ``single``, one text at a time; None: use torch. ``lossless`` leaves
    out the lossy forms, for callers whose outputs must not depend on batching.

    subtle: dynamic int8 quantizes each batch's activations with that batch's own range, so an
    input's output depends on the inputs it was batched with (the recommender's demo
    cross-encoder: up to 0.02 in P(interest), and 52 of 400 ranks moved with the chunk size);
    the verdicts still agree, which is all the agreement check asks of a classifier.

    subtle: fp32 torch's own speed is not a candidate: on a handful of check texts the timings
    are noise, and onnxruntime has never been the slower one on the CPUs measured (e.g. 75 vs 79
    vs 93 headlines/s for torch, ONNX, int8 in ``benchmarks/finance.py`` on an AMX Xeon).
    """
    return _fastest(export_report(model_dir), export_dir(model_dir), lossless, single)


def _fastest(report: dict, folder: Path, lossless: bool, single: bool) -> str | None:
    """:func:`best_form` on a report already read."""
    if report.get("kind") == "one_way":  # its two ONNX stages (shared.one_way) are one form
        from .one_way import FIRST_FILE, SECOND_FILE

        # subtle: a ranker reads P(interest) itself, so the same verdicts are not enough
        agreed = (report.get("onnx_agreement", 0.0) >= MIN_AGREEMENT
                  and report.get("onnx_max_abs_diff", 1.0) <= MAX_ONE_WAY_DIFF)
        return "onnx" if agreed and (folder / FIRST_FILE).exists() and (folder / SECOND_FILE).exists() else None
    best, best_speed = None, -1.0
    for form, file in FILES.items():
        speed = report.get(f"{form}_texts_per_s", 0.0)
        if single:  # reports written before single-text timing rank by batch speed
            speed = report.get(f"{form}_single_per_s", speed)
        if ((lossless and form in LOSSY) or (file is not None and not (folder / file).exists())
                or report.get(f"{form}_agreement", 0.0) < MIN_AGREEMENT):
            continue
        if speed > best_speed:
            best, best_speed = form, speed
    return best


def export_report(model_dir: Path) -> dict:
    """The export report of ``model_dir`` ({} when it was never exported)."""
    path = export_dir(model_dir) / "report.json"
    return json.loads(path.read_text()) if path.exists() else {}
