"""One typed settings object, read from the environment (prefix ``VERTICALS_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _auto_device() -> str:
    import torch  # subtle: imported lazily so reading settings stays cheap

    return "cuda" if torch.cuda.is_available() else "cpu"


class Settings(BaseSettings):
    """Where the suite keeps its state and which device it computes on.

    Example: ``VERTICALS_HOME=/data/verticals verticals models list``.
    """

    model_config = SettingsConfigDict(env_prefix="VERTICALS_")

    home: Path = Path("var")
    db_url: str = ""
    device: str = ""

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        if value not in ("", "cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {value!r}")
        return value

    def model_post_init(self, __context: object) -> None:
        self.home = self.home.expanduser().resolve()
        if not self.db_url:
            self.db_url = f"sqlite:///{self.home / 'verticals.db'}"
        if not self.device:
            self.device = _auto_device()

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def indexes_dir(self) -> Path:
        return self.home / "indexes"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (call ``get_settings.cache_clear()`` after changing the env)."""
    settings = Settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    return settings
