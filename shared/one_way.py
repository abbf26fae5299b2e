"""One-way pair classifiers: the first text is read alone, the second reads both.

A cross-encoder reads a (profile, item) pair as one sequence, so each pair pays again for the
profile's ~125 tokens, though a batch job scores one profile against dozens of items. In a
one-way model the first text's tokens attend only to each other; the second text's tokens attend
to both; the head reads the mean of the second text's tokens. The first text's keys and values
at every layer then do not depend on the second text: they are computed once per distinct first
text, and each pair pays only for its own tokens (~22 for a MovieLens item). This is the history
caching of generative recommenders (M-FALCON, Zhai et al. 2024) and of MORES (Gao et al. 2020).

Training runs the joined sequence through the stock encoder under :func:`one_way_mask`; serving
(:func:`one_way_logits`) runs the two halves apart and gives the same logits (tested).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

FIRSTS_PER_CHUNK = 16  # distinct first texts whose keys and values are held at once
# second texts scored at once; subtle: each reads its first text's keys and values copied out
# per pair, and 64 at a time ran slower than 32 (MovieLens, 6 layers: 131 vs 169 pairs/s)
PAIRS_PER_BATCH = 32
FIRST_FILE, SECOND_FILE = "one_way_first.onnx", "one_way_second.onnx"  # in the export folder
SECOND_INPUTS = ["input_ids", "attention_mask", "index", "first_keys", "first_values", "first_mask"]


def halves(tokenizer, firsts: Sequence[str], seconds: Sequence[str], max_length: int
           ) -> tuple[list[list[int]], list[list[int]]]:
    """Token ids of each side, each cut at ``max_length`` on its own (the first text's length
    never depends on the second's): ``("a b", "c") -> ([CLS, a, b, SEP], [c, SEP])``."""
    distinct = list(dict.fromkeys(firsts))  # subtle: a batch job repeats each profile ~40 times
    encoded = dict(zip(distinct, tokenizer(distinct, truncation=True, max_length=max_length)["input_ids"]))
    second = tokenizer(list(seconds), add_special_tokens=False, truncation=True,
                       max_length=max_length - 1)["input_ids"]
    return [encoded[text] for text in firsts], [ids + [tokenizer.sep_token_id] for ids in second]


def encode_one_way(tokenizer, firsts: Sequence[str], seconds: Sequence[str], max_length: int
                   ) -> dict[str, torch.Tensor]:
    """The joined sequences a one-way model trains on: ``[CLS] first [SEP] second [SEP]``,
    token types 0 then 1, padded on the right."""
    first, second = halves(tokenizer, firsts, seconds, max_length)
    ids, mask = _padded([a + b for a, b in zip(first, second)], tokenizer.pad_token_id)
    types, _ = _padded([[0] * len(a) + [1] * len(b) for a, b in zip(first, second)], 0)
    return {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask),
            "token_type_ids": torch.from_numpy(types)}


def one_way_mask(attention_mask: torch.Tensor, token_type_ids: torch.Tensor, dtype: torch.dtype
                 ) -> torch.Tensor:
    """Additive ``(batch, 1, seq, seq)`` mask: a query sees a key that is not padding and is in
    the first text, or any such key when the query is in the second text."""
    keys = attention_mask.bool()[:, None, None, :]
    allowed = keys & ((token_type_ids == 0)[:, None, None, :] | (token_type_ids == 1)[:, None, :, None])
    return _additive(allowed, dtype)


def one_way_logits(stages: TorchStages | OnnxStages, tokenizer, firsts: Sequence[str],
                   seconds: Sequence[str], max_length: int, batch_size: int = PAIRS_PER_BATCH) -> np.ndarray:
    """Logits of a one-way model for each (first, second) pair: each distinct first text is
    encoded once (``stages.first``), then its pairs a batch at a time (``stages.second``).

    Example: ``one_way_logits(TorchStages(model), tokenizer, ["likes Alien", "likes Alien"],
    ["Aliens (1986)", "Cats (2019)"], 128)`` -> an array of shape ``(2, n_labels)``; "likes
    Alien" went through the encoder once.
    """
    if not len(firsts):
        return np.zeros((0, stages.labels), dtype=np.float32)
    first, second = halves(tokenizer, firsts, seconds, max_length)
    slots: dict[tuple[int, ...], int] = {}
    owner = [slots.setdefault(tuple(ids), len(slots)) for ids in first]
    pairs_of: list[list[int]] = [[] for _ in slots]
    for row, slot in enumerate(owner):
        pairs_of[slot].append(row)
    distinct = [list(ids) for ids in slots]
    out = np.zeros((len(first), stages.labels), dtype=np.float32)
    by_length = sorted(range(len(distinct)), key=lambda i: len(distinct[i]))
    for start in range(0, len(by_length), FIRSTS_PER_CHUNK):
        chunk = by_length[start:start + FIRSTS_PER_CHUNK]
        ids, mask = _padded([distinct[i] for i in chunk], tokenizer.pad_token_id)
        cached = stages.first(ids, mask)
        at = {slot: i for i, slot in enumerate(chunk)}
        rows = sorted((r for slot in chunk for r in pairs_of[slot]), key=lambda r: len(second[r]))
        for b in range(0, len(rows), batch_size):
            batch = rows[b:b + batch_size]
            index = np.array([at[owner[r]] for r in batch], dtype=np.int64)
            out[batch] = stages.second(*_padded([second[r] for r in batch], tokenizer.pad_token_id),
                                       index, *cached, mask)
    return out


class FirstStage(torch.nn.Module):
    """First texts -> their keys and values at every layer, each ``(layers, n, heads, length,
    head width)``: all a second text reads of them."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple:  # noqa: D102
        hidden = self.model.bert.embeddings(input_ids=input_ids, token_type_ids=torch.zeros_like(input_ids))
        _, kv = _layers(self.model, hidden, _additive(attention_mask.bool()[:, None, None, :], hidden.dtype))
        return torch.stack([k for k, _ in kv]), torch.stack([v for _, v in kv])


class SecondStage(torch.nn.Module):
    """Second texts -> logits, each reading the keys and values of first text ``index``, its
    positions continuing after that text's (as in the joined sequence)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, index: torch.Tensor,
                first_keys: torch.Tensor, first_values: torch.Tensor, first_mask: torch.Tensor
                ) -> torch.Tensor:  # noqa: D102
        first_mask = first_mask[index]
        positions = first_mask.sum(1, keepdim=True) + torch.cumsum(torch.ones_like(input_ids), 1) - 1
        hidden = self.model.bert.embeddings(input_ids=input_ids, token_type_ids=torch.ones_like(input_ids),
                                            position_ids=positions)
        seen = torch.cat([first_mask, attention_mask], 1).bool()[:, None, None, :]
        prefix = [(first_keys[i][index], first_values[i][index]) for i in range(first_keys.shape[0])]
        hidden, _ = _layers(self.model, hidden, _additive(seen, hidden.dtype), prefix)
        weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return self.model.classifier((hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9))


class TorchStages:
    """The two stages in torch, on ``device``; int64 arrays in, logits out as numpy.
    ``TorchStages(load_classifier_model(path))`` for a one-way model's folder."""

    name = "torch-one-way"

    def __init__(self, model: torch.nn.Module, device: str = "cpu") -> None:
        if getattr(model.config, "position_embedding_type", "absolute") != "absolute":
            raise ValueError("one-way stages continue the first text's absolute positions; this "
                             f"model's are {model.config.position_embedding_type!r}")
        model = model.to(device).eval()
        self.device, self.labels = device, model.config.num_labels
        self._first, self._second = FirstStage(model).eval(), SecondStage(model).eval()

    @torch.inference_mode()
    def first(self, ids: np.ndarray, mask: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return self._first(*self._tensors(ids, mask))

    @torch.inference_mode()
    def second(self, ids: np.ndarray, mask: np.ndarray, index: np.ndarray, keys: torch.Tensor,
               values: torch.Tensor, first_mask: np.ndarray) -> np.ndarray:
        ids, mask, index, first_mask = self._tensors(ids, mask, index, first_mask)
        return self._second(ids, mask, index, keys, values, first_mask).float().cpu().numpy()

    def _tensors(self, *arrays: np.ndarray) -> list[torch.Tensor]:
        return [torch.as_tensor(a, device=self.device) for a in arrays]


class OnnxStages:
    """The two stages as exported ONNX graphs (:func:`export_one_way`), run by onnxruntime:
    ``OnnxStages(path / "export", labels=2)``."""

    name = "onnx-one-way"

    def __init__(self, folder: Path, labels: int, threads: int | None = None) -> None:
        from .backends import OnnxBackend

        self.labels = labels
        self._first = OnnxBackend(folder / FIRST_FILE, threads).session
        self._second = OnnxBackend(folder / SECOND_FILE, threads).session
        # subtle: in a one-layer model the keys and values come straight from the embeddings, so
        # the export drops the unused attention mask and a run that feeds it fails
        self._first_inputs = {i.name for i in self._first.get_inputs()}

    def first(self, ids: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        feed = {"input_ids": ids, "attention_mask": mask}
        keys, values = self._first.run(None, {k: v for k, v in feed.items() if k in self._first_inputs})
        return keys, values

    def second(self, ids: np.ndarray, mask: np.ndarray, index: np.ndarray, keys: np.ndarray,
               values: np.ndarray, first_mask: np.ndarray) -> np.ndarray:
        return self._second.run(None, dict(zip(SECOND_INPUTS, (ids, mask, index, keys, values, first_mask))))[0]


def serving_stages(model_dir: Path, model_loader, device: str = "cpu",
                   threads: int | None = None) -> TorchStages | OnnxStages:
    """On CPU the ONNX stages where their export agreed with torch (``shared.backends.best_form``;
    lossless: fp32), else the torch stages (``model_loader()`` gives the torch model)."""
    from .backends import _fastest, export_dir, export_report

    if device == "cpu":
        report, folder = export_report(model_dir), export_dir(model_dir)  # read once
        if _fastest(report, folder, lossless=True, single=False) == "onnx":
            return OnnxStages(folder, int(report["labels"]), threads)
    return TorchStages(model_loader(), device)


def export_one_way(model: torch.nn.Module, tokenizer, folder: Path, firsts: Sequence[str],
                   seconds: Sequence[str], max_length: int) -> dict:
    """Write both stages as ONNX graphs (fp32 only: lossless) into ``folder``; report their
    agreement with torch on the check pairs (same verdict, and the largest logit difference) and
    each form's pairs/second there. ``export_model`` calls this for a one-way model.

    Example report: ``{"kind": "one_way", "onnx_agreement": 1.0, "onnx_max_abs_diff": 1e-06,
    "torch_pairs_per_s": 71.0, "onnx_pairs_per_s": 126.0, ...}``
    """
    from .export import _agreement

    torch_stages = TorchStages(model.float(), "cpu")
    _trace(torch_stages, tokenizer, folder, max_length)
    report: dict = {"kind": "one_way", "labels": torch_stages.labels, "check_texts": len(firsts),
                    "check_pairs": True, "max_length": max_length}
    results = {}
    for form, stages in (("torch", torch_stages), ("onnx", OnnxStages(folder, torch_stages.labels))):
        results[form], report[f"{form}_pairs_per_s"] = _timed(stages, tokenizer, firsts, seconds, max_length)
    report["onnx_agreement"] = _agreement(results["torch"], results["onnx"], embed=False)
    report["onnx_max_abs_diff"] = float(np.abs(results["onnx"] - results["torch"]).max())
    return report


def _trace(stages: TorchStages, tokenizer, folder: Path, max_length: int) -> None:
    """Both stages to ONNX, traced on two made-up pairs (every size is a dynamic axis)."""
    import warnings

    first, second = halves(tokenizer, ["a first text", "another"], ["a second", "more text here"], max_length)
    ids, mask = _padded(first, tokenizer.pad_token_id)
    keys, values = stages.first(ids, mask)
    inputs = [torch.as_tensor(a) for a in (*_padded(second, tokenizer.pad_token_id), np.array([1, 0]))]
    pairs, firsts = {0: "pairs", 1: "length"}, {1: "firsts", 3: "first_length"}
    # subtle: the tracer warns about each shape-dependent branch; the agreement check decides
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(stages._first, (torch.as_tensor(ids), torch.as_tensor(mask)), str(folder / FIRST_FILE),
                          input_names=["input_ids", "attention_mask"], output_names=["first_keys", "first_values"],
                          dynamic_axes={"input_ids": {0: "firsts", 1: "first_length"},
                                        "attention_mask": {0: "firsts", 1: "first_length"},
                                        "first_keys": firsts, "first_values": firsts},
                          opset_version=17, dynamo=False)
        torch.onnx.export(stages._second, (*inputs, keys, values, torch.as_tensor(mask)), str(folder / SECOND_FILE),
                          input_names=SECOND_INPUTS, output_names=["logits"],
                          dynamic_axes={"input_ids": pairs, "attention_mask": pairs, "index": {0: "pairs"},
                                        "first_keys": firsts, "first_values": firsts,
                                        "first_mask": {0: "firsts", 1: "first_length"}, "logits": {0: "pairs"}},
                          opset_version=17, dynamo=False)


def _timed(stages, tokenizer, firsts: Sequence[str], seconds: Sequence[str], max_length: int
           ) -> tuple[np.ndarray, float]:
    """The logits of the pairs and pairs/second, timed on a second pass."""
    import time

    one_way_logits(stages, tokenizer, firsts, seconds, max_length)
    started = time.perf_counter()
    logits = one_way_logits(stages, tokenizer, firsts, seconds, max_length)
    return logits, round(len(firsts) / (time.perf_counter() - started), 1)


def _layers(model, hidden: torch.Tensor, bias: torch.Tensor,
            prefix: list[tuple[torch.Tensor, torch.Tensor]] | None = None) -> tuple:
    """BERT's layers by hand, with each layer's keys and values put after ``prefix``'s (the
    cached first text): returns the last hidden states and each layer's own keys and values.
    Without a prefix (first texts) the last layer stops at its keys and values: its output is
    never read."""
    own = []
    for i, layer in enumerate(model.bert.encoder.layer):
        attention = layer.attention.self
        query, key, value = (_split(attention.query(hidden), attention.num_attention_heads),
                             _split(attention.key(hidden), attention.num_attention_heads),
                             _split(attention.value(hidden), attention.num_attention_heads))
        own.append((key, value))
        if prefix is None and i == len(model.bert.encoder.layer) - 1:
            break  # a first text's last layer is only read for its keys and values
        if prefix is not None:
            key, value = torch.cat([prefix[i][0], key], 2), torch.cat([prefix[i][1], value], 2)
        context = torch.nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=bias)
        context = context.transpose(1, 2).reshape(hidden.shape)
        after = layer.attention.output(context, hidden)
        hidden = layer.output(layer.intermediate(after), after)
    return hidden, own


def _split(x: torch.Tensor, heads: int) -> torch.Tensor:
    """``(n, length, width) -> (n, heads, length, width / heads)``."""
    return x.view(x.shape[0], x.shape[1], heads, -1).transpose(1, 2)


def _padded(rows: list[list[int]], pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-padded int64 ``(input_ids, attention_mask)``: ``[[5, 6], [7]] -> [[5, 6], [7, pad]],
    [[1, 1], [1, 0]]``."""
    ids = np.full((len(rows), max(len(r) for r in rows)), pad, dtype=np.int64)
    mask = np.zeros(ids.shape, dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, :len(row)], mask[i, :len(row)] = row, 1
    return ids, mask


def _additive(allowed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """0 where ``allowed``, the dtype's most negative number elsewhere."""
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(
        ~allowed, torch.finfo(dtype).min)
