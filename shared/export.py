"""Fast CPU forms: ONNX export (lossless), int8 dynamic quantization and bf16 (lossy: checked).

``export_model`` writes ``<model dir>/export/`` atomically: ``model.onnx``, ``model.int8.onnx``
and ``report.json`` (agreement with the torch model and texts/second for each form); for a
one-way pair model (:mod:`shared.one_way`) its two fp32 stages and their report instead. An int8
form that disagrees is quantized again with each layer's feed-forward output kept in fp32. The bf16
form needs no file: the torch weights are cast when it loads; it is fast only where the CPU
multiplies bf16 natively (AMX / AVX512-BF16), and only there is it measured and offered. Serving code calls
:func:`best_backend`: the fastest form measured, among those that agreed with torch on >= 99% of
the check texts; torch when none agreed (:mod:`shared.backends`).
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from .backends import (
    FILES,
    INPUTS,
    MAX_ONE_WAY_DIFF,
    MIN_AGREEMENT,
    KeywordCall,
    OnnxBackend,
    TorchBackend,
    export_dir,
    load_torch,
)
from .errors import VerticalsError
from .storage import atomic_dir

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

    subtle: an agreement is cut, not rounded, to three places: 0.98958 read "agrees 0.990, below
    0.99: not served".
    """
    if report.get("kind") == "one_way":
        ok = report["onnx_agreement"] >= MIN_AGREEMENT and report["onnx_max_abs_diff"] <= MAX_ONE_WAY_DIFF
        low = "" if ok else f", or logits off by over {MAX_ONE_WAY_DIFF}: not served"
        return (f"one-way pairs: torch {report['torch_pairs_per_s']:.0f}/s; onnx "
                f"{report['onnx_pairs_per_s']:.0f}/s (agrees {cut(report['onnx_agreement'])}{low}); "
                "no int8 or bf16: one-way stages export in fp32")
    parts = [f"torch {report.get('torch_texts_per_s', 0):.0f}/s"]
    for form in FILES:
        if f"{form}_agreement" in report:
            agreement = report[f"{form}_agreement"]
            low = f", below {MIN_AGREEMENT}: not served" if agreement < MIN_AGREEMENT else ""
            kept = " with fp32 feed-forward outputs" if form == "int8" and report.get("int8_fp32_ffn_output") else ""
            parts.append(f"{form}{kept} {report[f'{form}_texts_per_s']:.0f}/s (agrees {cut(agreement)}{low})")
    if report.get("bf16_skipped"):
        parts.append("bf16 not offered: no native bf16 on this CPU")
    return "; ".join(parts)


def cut(share: float, places: int = 3) -> str:
    """``share`` to ``places`` decimals, cut rather than rounded, so one below a bar never reads
    as the bar:

    >>> cut(0.98958), cut(1979 / 1999, 4), cut(0.57, 4)
    ('0.989', '0.9899', '0.5700')
    """
    return f"{math.floor(round(share * 10 ** places, 9)) / 10 ** places:.{places}f}"  # 0.57 * 1e4 is 5699.99...


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
            KeywordCall(model, embed).eval(), args, str(path), input_names=INPUTS,
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
