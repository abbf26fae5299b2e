"""One typed settings object, read from the environment (prefix ``VERTICALS_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, PrivateAttr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import SettingsError


def _auto_device() -> str:
    import torch  # subtle: imported lazily so reading settings stays cheap

    return "cuda" if torch.cuda.is_available() else "cpu"


def _check_cuda() -> None:
    """Refuse VERTICALS_DEVICE=cuda up front: torch would fail at the first model load, deep in
    a 140-line traceback (``Torch not compiled with CUDA enabled``)."""
    import torch

    if not torch.cuda.is_available():
        raise SettingsError("VERTICALS_DEVICE=cuda but torch sees no CUDA device — unset it or use cpu")


class Settings(BaseSettings):
    """Where the suite keeps its state and which device it computes on.

    Example: ``VERTICALS_HOME=/data/verticals verticals models list``.
    """

    model_config = SettingsConfigDict(env_prefix="VERTICALS_")

    home: Path = Path("var")
    db_url: str = ""
    # read from VERTICALS_DEVICE; "" means "cuda when present", resolved by ``device`` on first use
    requested_device: str = Field("", validation_alias="VERTICALS_DEVICE")
    _device_checked: bool = PrivateAttr(False)

    @field_validator("requested_device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        if value not in ("", "cpu", "cuda"):
            raise ValueError(f"VERTICALS_DEVICE must be 'cpu' or 'cuda', got {value!r}")
        return value

    @property
    def device(self) -> str:
        """``cpu`` or ``cuda``: VERTICALS_DEVICE, else cuda when torch sees a GPU.

        subtle: resolved on first use, not in the constructor, because asking torch costs ~4 s
        of imports and most commands (``verticals models list``) never load a model.
        """
        if not self._device_checked:  # once: serving code asks on every batch
            if not self.requested_device:
                self.requested_device = _auto_device()
            elif self.requested_device == "cuda":
                _check_cuda()
            self._device_checked = True
        return self.requested_device

    def model_post_init(self, __context: object) -> None:
        self.home = self.home.expanduser().resolve()
        if not self.db_url:
            self.db_url = f"sqlite:///{self.home / 'verticals.db'}"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def indexes_dir(self) -> Path:
        return self.home / "indexes"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (call ``get_settings.cache_clear()`` after changing the env)."""
    try:
        settings = Settings()
    except ValidationError as exc:
        raise SettingsError("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())) from None
    try:
        settings.home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        why = "a file" if settings.home.is_file() else f"not a folder this process can write ({reason})"
        raise SettingsError(f"VERTICALS_HOME {settings.home} is {why} — set VERTICALS_HOME to a writable "
                            "folder") from None
    return settings
