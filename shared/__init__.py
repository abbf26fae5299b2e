"""verticals core: the dozen names the apps use (see docs/core-api.md).

Names load lazily (PEP 562) so ``import shared`` and ``verticals --help`` stay fast: torch,
transformers and faiss are imported only by the modules that need them.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Settings": "settings", "get_settings": "settings",
    "VerticalsError": "errors", "DataError": "errors", "ModelNotFoundError": "errors",
    "RegistryError": "errors", "VectorIndexError": "errors",
    "atomic_write_text": "storage", "atomic_write_bytes": "storage", "atomic_dir": "storage",
    "LabelledText": "data", "read_table": "data", "read_labelled": "data", "read_texts": "data",
    "write_labelled": "data", "fingerprint": "data", "file_digest": "data",
    "resolve_model": "models", "load_sentence_model": "models",
    "TrainConfig": "finetune", "train_classifier": "finetune", "finetune_classifier": "finetune",
    "FinetuneResult": "finetune", "TrainedClassifier": "fit",
    "Classifier": "classifier", "load_classifier": "classifier",
    "Embedder": "embed", "TextEmbedder": "embed", "get_embedder": "embed",
    "Registry": "registry", "get_registry": "registry",
    "VectorIndex": "index", "Hit": "index",
    "classification_metrics": "evaluate", "expected_calibration_error": "evaluate",
    "recall_at_k": "evaluate", "mrr": "evaluate", "ndcg_at_k": "evaluate", "roc_auc": "evaluate",
    "make_engine": "db", "session_scope": "db", "create_tables": "db",
    "export_model": "export",
    "pretrain_mlm": "pretrain",
    "train_biencoder": "contrastive", "train_cross_encoder": "contrastive",
    "explain": "explanations",
    "retrain": "retraining", "RetrainReport": "retraining", "already_tried": "retraining",
    "AllInEvaluationSet": "retraining",
    "cron_trigger": "retraining", "judge_against_serving": "retraining",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'shared' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
