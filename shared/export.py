"""Fast CPU forms: ONNX export (lossless), int8 dynamic quantization and bf16 (lossy: checked).

``export_model`` writes ``<model dir>/export/`` atomically: ``model.onnx``, ``model.int8.onnx``
and ``report.json`` (agreement with the torch model and texts/second for each form); for a
one-way pair model (:mod:`shared.one_way`) its two fp32 stages and their report instead. An int8
form that disagrees is quantized again with each layer's feed-forward output kept in fp32. The bf16
form needs no file: the torch weights are cast when it loads; it is fast only where the CPU
multiplies bf16 natively (AMX / AVX512-BF16), and only there is it measured and offered. Serving code calls
:func:`best_backend`: the fastest form measured, among those that agreed with torch on >= 99% of
the check texts; torch when none agreed.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from .errors import VerticalsError
from .storage import atomic_dir

INPUTS = ["input_ids", "attention_mask", "token_type_ids"]
MIN_AGREEMENT = 0.99
MAX_ONE_WAY_DIFF = 1e-3  # the largest logit difference a one-way model's ONNX stages may show
FILES = {"onnx": "model.onnx", "int8": "model.int8.onnx", "bf16": None}  # bf16: cast at load
# outputs depend on the batch: int8 scales by each batch's range; bf16 rounds to 3 digits and a
# text's logits moved by up to 0.004 between batch compositions (demo cross-encoder)
LOSSY = ("int8", "bf16")


class _KeywordCall(torch.nn.Module):
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
        self.module = _KeywordCall(model.to(device=device, dtype=dtype).eval(), embed).eval()
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
    return loader(model_dir, **options).eval()


CHECK_TEXTS = 200  # inputs that check an exported form after training (agreement and speed)
SINGLE_TEXTS = 32  # of them, timed one at a time (an interactive answer's shape)
SINGLE_PASSES = 3  # timed passes over them, the best kept: one pass read 5.2/s, then 33.2/s, on a busy machine
# What a version folder keeps to check its export on, by kind: a classifier's fixed test set
# (or its training rows), a bi-encoder's held-out (query, positive) pairs, an encoder's held-out
# masked-LM texts. A cross-encoder keeps none: it is checked on pairs the user passes.
KEPT_TEXTS = {"classifier": ("eval.csv", "train.csv"), "biencoder": ("eval_pairs.csv",),
              "encoder": ("eval_texts.txt",)}
TRANSFORMER_KINDS = ("classifier", "cross_encoder", "biencoder", "encoder")


def kept_texts(model_dir: Path, kind: str) -> list[str]:
    """The texts ``model_dir`` keeps for checking an export (see ``KEPT_TEXTS``); [] if none.

    A bi-encoder's pairs give both sides, queries first: ``q1,p1 / q2,p1`` -> ``[q1, q2, p1]``.
    """
    from .data import read_table, read_texts

    path = next((model_dir / f for f in KEPT_TEXTS.get(kind, ()) if (model_dir / f).is_file()), None)
    if path is None:
        return []
    if path.suffix == ".txt":
        return read_texts(path)
    if kind == "biencoder":
        frame = read_table(path, ["query", "positive"])
        return list(dict.fromkeys([*frame["query"], *frame["positive"]]))
    return read_table(path, ["text"])["text"].tolist()


def write_kept_texts(texts: Sequence[str], path: Path) -> None:
    """One text per line, inner line breaks folded to spaces (read back by ``kept_texts``)."""
    path.write_text("".join(" ".join(t.split()) + "\n" for t in texts if t.strip()), encoding="utf-8")


def serving_length(model_dir: Path, embed: bool = False) -> int:
    """The tokens the served model reads per input: an embedder's ``Embedder.max_length``, a
    classifier's recipe (``params.max_length`` in its card; 128 without one)."""
    if embed:
        from .embed import Embedder

        return Embedder(model_dir).max_length
    card = model_dir / "card.json"
    params = json.loads(card.read_text()).get("params", {}) if card.exists() else {}
    return int(params.get("max_length") or 128)


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


def export_model(
    model_dir: Path, check_texts: Sequence[str], embed: bool = False, int8: bool = True,
    max_length: int | None = None, check_pairs: Sequence[str] | None = None,
) -> dict:
    """Export ``model_dir`` to ONNX (and, with ``int8``, the lossy forms: int8, and bf16 where
    :func:`native_bf16`), check agreement on ``check_texts``, time all forms (the report names
    the CPU: :func:`cpu_name`).

    Agreement is the share of identical argmax predictions (classifiers) or of cosine >= 0.99
    (embedders). A cross-encoder is checked on what it serves: ``check_pairs`` gives the second
    text of each pair. Texts are cut at ``max_length`` tokens, by default where serving cuts them
    (:func:`serving_length`). Returns the report written to ``export/report.json``.
    """
    from transformers import AutoTokenizer

    if not check_texts:
        raise VerticalsError("export needs check texts to measure agreement; none were given")
    if check_pairs is not None and len(check_pairs) != len(check_texts):
        raise VerticalsError(f"export got {len(check_texts)} check texts but {len(check_pairs)} pairs")
    max_length = max_length or serving_length(Path(model_dir), embed)
    model = load_torch(model_dir, embed, attn_implementation="eager")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    pairs = list(check_pairs) if check_pairs is not None else None
    if getattr(model.config, "one_way", False):
        return _export_one_way(Path(model_dir), model, tokenizer, list(check_texts), pairs, max_length)
    encoded = dict(tokenizer(list(check_texts), pairs, padding=True, truncation=True,
                             max_length=max_length, return_tensors="np"))
    torch_backend = TorchBackend(model, "cpu", embed)
    with atomic_dir(export_dir(model_dir)) as tmp:
        _onnx_export(model, tokenizer, tmp / "model.onnx", embed)
        report = {"kind": "embedder" if embed else "classifier", "check_texts": len(check_texts),
                  "timing": f"texts_per_s: one pass in batches of 64; single_per_s: the best of {SINGLE_PASSES} "
                            f"passes over {SINGLE_TEXTS} texts one at a time; tokenising included",
                  "check_pairs": pairs is not None, "max_length": max_length, "cpu": cpu_name()}
        reference = torch_backend(encoded)

        def measure(form: str, backend: OnnxBackend | TorchBackend) -> None:
            if form != "torch":
                report[f"{form}_agreement"] = _agreement(reference, backend(encoded), embed)
            report[f"{form}_texts_per_s"] = _speed(backend, tokenizer, check_texts, pairs, max_length)
            report[f"{form}_single_per_s"] = _speed(backend, tokenizer, check_texts[:SINGLE_TEXTS],
                                                    pairs[:SINGLE_TEXTS] if pairs else None, max_length, 1,
                                                    SINGLE_PASSES)

        measure("torch", torch_backend)
        measure("onnx", OnnxBackend(tmp / "model.onnx"))
        if int8:
            _quantize(tmp / "model.onnx", tmp / "model.int8.onnx")
            measure("int8", OnnxBackend(tmp / "model.int8.onnx"))
            if report["int8_agreement"] < MIN_AGREEMENT and (kept := _ffn_outputs(tmp / "model.onnx")):
                report["int8_whole_agreement"] = report["int8_agreement"]  # kept for the record
                _quantize(tmp / "model.onnx", tmp / "model.int8.onnx", kept)
                measure("int8", OnnxBackend(tmp / "model.int8.onnx"))
                report["int8_fp32_ffn_output"] = True
            if native_bf16():
                measure("bf16", TorchBackend(load_torch(model_dir, embed), "cpu", embed, torch.bfloat16))
            else:
                report["bf16_skipped"] = "this CPU has no native bf16 (AMX / AVX512-BF16)"
        (tmp / "report.json").write_text(json.dumps(report, indent=2))
    print(f"export {_label(Path(model_dir))}: {summary(report)}", file=sys.stderr)
    return report


def cpu_name() -> str:
    """The CPU's name and the vector units the exported forms' speed hangs on (bf16 is fast only
    with AMX or AVX-512 BF16, int8 with VNNI): rates measured on different CPUs differ by 5x, so
    every export report and benchmark names the one it ran on.

    >>> cpu_name()  # doctest: +SKIP
    'AMD EPYC (avx2)'
    """
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    lines = info.splitlines()
    name = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "unknown")
    flags = set(next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), []))
    units = [u for u in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16") if u in flags]
    return f"{name} ({', '.join(units) or 'no AVX2'})"


def native_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AMX or AVX512-BF16). Elsewhere torch emulates
    it: 15 texts/s against fp32's 99 on an AVX2-only EPYC, so the bf16 form could never be the
    fastest and export neither times nor offers it (timing it cost half a minute per export)."""
    check = [getattr(torch.cpu, f, None) for f in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
    if any(c is None for c in check):
        return True  # a torch that cannot tell: measure, and let the timing decide
    return any(c() for c in check)


def _label(folder: Path) -> str:
    """``models/intents/v3 -> "intents@v3"``; another folder by its name."""
    return f"{folder.parent.name}@{folder.name}" if folder.name[1:].isdigit() else folder.name


def _export_one_way(model_dir: Path, model, tokenizer, texts: list[str], pairs: list[str] | None,
                    max_length: int) -> dict:
    """A one-way pair model's two ONNX stages (:func:`shared.one_way.export_one_way`)."""
    from .one_way import export_one_way

    if pairs is None:
        raise VerticalsError(f"{model_dir.name} is a one-way pair model: check its export on pairs "
                             "(pass check_pairs)")
    with atomic_dir(export_dir(model_dir)) as tmp:
        report = export_one_way(model, tokenizer, tmp, texts, pairs, max_length) | {"cpu": cpu_name()}
        (tmp / "report.json").write_text(json.dumps(report, indent=2))
    print(f"export {_label(model_dir)}: {summary(report)}", file=sys.stderr)
    return report


def summary(report: dict) -> str:
    """One line for a person: each form's agreement and speed, and the one that serves.

    >>> summary({"onnx_agreement": 1.0, "onnx_texts_per_s": 400.0, "int8_agreement": 0.97,
    ...          "int8_texts_per_s": 900.0, "torch_texts_per_s": 350.0})
    'torch 350/s; onnx 400/s (agrees 1.000); int8 900/s (agrees 0.970, below 0.99: not served)'
    """
    if report.get("kind") == "one_way":
        ok = report["onnx_agreement"] >= MIN_AGREEMENT and report["onnx_max_abs_diff"] <= MAX_ONE_WAY_DIFF
        low = "" if ok else f", or logits off by over {MAX_ONE_WAY_DIFF}: not served"
        return (f"one-way pairs: torch {report['torch_pairs_per_s']:.0f}/s; onnx "
                f"{report['onnx_pairs_per_s']:.0f}/s (agrees {report['onnx_agreement']:.3f}{low}); "
                "no int8 or bf16: one-way stages export in fp32")
    parts = [f"torch {report.get('torch_texts_per_s', 0):.0f}/s"]
    for form in FILES:
        if f"{form}_agreement" in report:
            agreement = report[f"{form}_agreement"]
            low = f", below {MIN_AGREEMENT}: not served" if agreement < MIN_AGREEMENT else ""
            kept = " with fp32 feed-forward outputs" if form == "int8" and report.get("int8_fp32_ffn_output") else ""
            parts.append(f"{form}{kept} {report[f'{form}_texts_per_s']:.0f}/s (agrees {agreement:.3f}{low})")
    if report.get("bf16_skipped"):
        parts.append("bf16 not offered: no native bf16 on this CPU")
    return "; ".join(parts)


def _onnx_export(model, tokenizer, path: Path, embed: bool) -> None:
    import warnings

    sample = tokenizer(["an example input", "two"], padding=True, return_tensors="pt")
    args = tuple(sample.get(k, torch.zeros_like(sample["input_ids"])) for k in INPUTS)
    axes = {k: {0: "batch", 1: "sequence"} for k in INPUTS} | {"output": {0: "batch"}}
    # subtle: the tracer warns about every shape-dependent branch in transformers' masking
    # code; the export is checked for agreement afterwards, so the warnings only add noise
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _KeywordCall(model, embed).eval(), args, str(path), input_names=INPUTS,
            output_names=["output"], dynamic_axes=axes, opset_version=17, dynamo=False,
        )


def _ffn_outputs(path: Path) -> list[str]:
    """The MatMul nodes of each layer's feed-forward output projection (BERT naming).

    subtle: their inputs, after GELU, carry the outlier activations that one int8 scale per
    tensor rounds away. Kept in fp32, the support embedder's share of texts at cosine >= 0.99
    went from 0.905 to 0.995 on its export check texts; on 400 other demo questions from 0.966
    to 1.000 (min 0.986 -> 0.991), at 1.41 ms a question against 1.22 fully int8 and 1.95 fp32
    (model passes alone, on an AMX Xeon).
    Other architectures' node names do not match: they keep the plain int8 form.
    """
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    return [n.name for n in graph.node if n.op_type == "MatMul" and "/output/dense/" in n.name
            and "/attention/" not in n.name]


def _quantize(source: Path, target: Path, keep_fp32: Sequence[str] = ()) -> None:
    """Dynamic int8 with per-channel weight scales; the nodes named in ``keep_fp32`` stay fp32."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    # subtle: per-channel weight scales keep MiniLM embeddings at cosine ~0.993 to fp32 (one
    # scale per tensor: ~0.969), measured on 300 Banking77 texts. The quantizer logs advice
    # about pre-processing on the root logger; the agreement check is what decides.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # setLevel, not .level: it also clears the loggers' caches
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
                         nodes_to_exclude=list(keep_fp32))
    finally:
        root.setLevel(level)


def _agreement(reference: np.ndarray, other: np.ndarray, embed: bool) -> float:
    if embed:
        cosine = (reference * other).sum(1) / (
            np.linalg.norm(reference, axis=1) * np.linalg.norm(other, axis=1) + 1e-12
        )
        return float(np.mean(cosine >= 0.99))
    return float(np.mean(reference.argmax(1) == other.argmax(1)))


def _speed(backend, tokenizer, texts: Sequence[str], pairs: list[str] | None, max_length: int,
           batch: int = 64, passes: int = 1) -> float:
    """Texts (or pairs) per second, tokenising included, in batches of ``batch``, timed after a
    first pass: the best of ``passes`` timed passes.

    subtle: one timed pass of 32 single texts read 5.2/s in one export and 33.2/s in the next,
    on a machine busy with other work; the best of three is what the form can do.

    subtle: bf16 builds a oneDNN kernel for each new input shape on first sight; timed on a
    first pass, it measured 64/s against ONNX's 78 on headlines it then served at over 1,000/s
    (on an AMX Xeon; a CPU without native bf16 is not offered it).
    """
    chunks = [(list(texts[i : i + batch]), pairs[i : i + batch] if pairs else None)
              for i in range(0, len(texts), batch)]

    def run(chunk: tuple[list[str], list[str] | None]) -> None:
        backend(dict(tokenizer(*chunk, padding=True, truncation=True, max_length=max_length,
                               return_tensors="np")))

    for chunk in chunks:
        run(chunk)
    best = float("inf")
    for _ in range(passes):
        start = time.perf_counter()
        for chunk in chunks:
            run(chunk)
        best = min(best, time.perf_counter() - start)
    return round(len(texts) / best, 1)
