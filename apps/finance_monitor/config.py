"""The monitor's TOML configuration: sources, fetching, alerting, webhooks, model names.

Example ``sources.toml``::

    [fetch]
    timeout_s = 10          # per read; a whole request gets 3x, a body at most max_bytes inflated
    allow_private = false   # private and loopback addresses refused, for sources and webhooks

    [alerts]
    window_hours = 6
    min_volume = 5
    horizon_windows = 120   # 30 days of 6-hour windows

    [[sources]]
    name = "wire"
    url = "https://news.example.com/rss.xml"
    interval_s = 300
    # kind = "feed" (RSS, Atom, JSON Feed; the default), "page" (one article) or "links" (a
    # section front page: each headline linked to on the same site or a subdomain is an article)

    [[webhooks]]
    url = "https://hooks.slack.com/services/..."
    format = "slack"

    [tickers]          # company names that count as a ticker mention besides "$NWB"
    NWB = ["Northwind Bank"]
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import MISSING, dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any, get_type_hints
from urllib.parse import urlsplit

from shared.errors import DataError

EXAMPLE = "see the example at the top of apps/finance_monitor/config.py"  # where errors send a user


class SourceKind(StrEnum):
    FEED = "feed"  # RSS / Atom, parsed with feedparser
    PAGE = "page"  # one HTML article, text extracted with trafilatura
    LINKS = "links"  # a section front page: each headline it links to is an article


def check_http_url(what: str, url: str) -> None:
    """A ``ValueError`` naming ``what`` unless ``url`` is http(s) with a host (and a valid port).

    >>> check_http_url("webhook url", "ftp://x")
    Traceback (most recent call last):
    ...
    ValueError: webhook url must start with http:// or https://, got 'ftp://x'
    """
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"{what} must start with http:// or https://, got {url!r}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise ValueError(f"{what} has an invalid host or port, got {url!r}") from None
    if not parts.hostname or any(c.isspace() for c in url):
        raise ValueError(f"{what} needs a host name and no spaces, got {url!r}")


MAX_INTERVAL_S = 31 * 24 * 3600  # a source polled less often than monthly is not monitored
MAX_WAIT_S = 3600.0  # timeouts, backoff and per-host spacing; more is a typo (and inf overflows)
MAX_WINDOW_HOURS = 24 * 366


@dataclass(frozen=True)
class SourceConfig:
    """One polled source. ``name`` must be unique in a config; it keys health and jobs."""

    name: str
    url: str
    kind: SourceKind = SourceKind.FEED
    interval_s: int = 300

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("source name must not be empty")
        if self.name != self.name.strip():  # "x" and "x " would look like one source everywhere
            raise ValueError(f"source name must not start or end with spaces, got {self.name!r}")
        check_http_url("source url", self.url)
        if not 1 <= self.interval_s <= MAX_INTERVAL_S:
            raise ValueError(f"interval_s must be between 1 and {MAX_INTERVAL_S} (31 days), "
                             f"got {self.interval_s}")
        if self.kind not in tuple(SourceKind):
            raise ValueError(f"kind must be one of {', '.join(k.value for k in SourceKind)}, got {self.kind!r}")
        object.__setattr__(self, "kind", SourceKind(self.kind))


@dataclass(frozen=True)
class FetchConfig:
    """How the HTTP client behaves towards every source."""

    timeout_s: float = 10.0
    retries: int = 2
    backoff_s: float = 0.5
    max_bytes: int = 5_000_000
    min_host_interval_s: float = 1.0
    max_redirects: int = 5
    allow_private: bool = False
    user_agent: str = "verticals-finance-monitor/0.1"

    def __post_init__(self) -> None:
        if not 0 < self.timeout_s <= MAX_WAIT_S:
            raise ValueError(f"timeout_s must be greater than 0 and at most {MAX_WAIT_S}, "
                             f"got {self.timeout_s}")
        if not 0 <= self.retries <= 10:  # subtle: the backoff doubles, the 10th waits backoff_s * 512
            raise ValueError(f"retries must be between 0 and 10, got {self.retries}")
        if self.max_bytes < 1024:
            raise ValueError(f"max_bytes must be at least 1024, got {self.max_bytes}")
        for name in ("backoff_s", "min_host_interval_s"):
            if not 0 <= getattr(self, name) <= MAX_WAIT_S:
                raise ValueError(f"{name} must be between 0 and {MAX_WAIT_S}, got {getattr(self, name)}")
        if self.max_redirects < 0:
            raise ValueError(f"max_redirects must be 0 or more, got {self.max_redirects}")


@dataclass(frozen=True)
class AlertConfig:
    """The surge detector's knobs (see ``alerts.detect_surges``)."""

    window_hours: float = 6.0
    baseline_windows: int = 8
    min_baseline_windows: int = 3
    z_threshold: float = 4.5
    min_volume: int = 5
    min_negative_share: float = 0.3
    cooldown_windows: int = 4
    horizon_windows: int = 120  # trends and alerts look this many windows back from the newest

    def __post_init__(self) -> None:
        if not 0 < self.window_hours <= MAX_WINDOW_HOURS:
            raise ValueError(f"window_hours must be greater than 0 and at most {MAX_WINDOW_HOURS} "
                             f"(a year), got {self.window_hours}")
        if not 1 <= self.min_baseline_windows <= self.baseline_windows:
            raise ValueError("min_baseline_windows must be between 1 and baseline_windows, "
                             f"got {self.min_baseline_windows}")
        history = self.baseline_windows + self.cooldown_windows
        if self.horizon_windows <= history:
            raise ValueError("horizon_windows must be greater than baseline_windows + "
                             f"cooldown_windows ({history}), got {self.horizon_windows}")
        if not 0.0 <= self.min_negative_share <= 1.0:
            raise ValueError(f"min_negative_share must be in [0, 1], got {self.min_negative_share}")
        if self.min_volume < 1:
            raise ValueError(f"min_volume must be at least 1, got {self.min_volume}")
        if self.cooldown_windows < 0:
            raise ValueError(f"cooldown_windows must be 0 or more, got {self.cooldown_windows}")
        if self.z_threshold <= 0:
            raise ValueError(f"z_threshold must be greater than 0, got {self.z_threshold}")


@dataclass(frozen=True)
class WebhookConfig:
    """A JSON POST target; ``format = "slack"`` sends ``{"text": ...}`` for Slack webhooks."""

    url: str
    format: str = "json"

    def __post_init__(self) -> None:
        if self.format not in ("json", "slack"):
            raise ValueError(f"webhook format must be 'json' or 'slack', got {self.format!r}")
        check_http_url("webhook url", self.url)


@dataclass(frozen=True)
class ModelConfig:
    """Registry names of the two classifiers."""

    sentiment: str = "finance-sentiment"
    topic: str = "finance-topic"
    # serve int8 / bf16 where they agreed with torch: faster on CPUs with VNNI or AMX, but a
    # headline near a tie may get another label in another batch (lossless ONNX or torch else)
    lossy: bool = False
    # the language the models read: an article in another is skipped and counted, not given the
    # English models' guess ("Aktienkurs bricht ein" was stored positive); "" reads every article
    language: str = "English"

    def __post_init__(self) -> None:
        from shared.language import FUNCTION_WORDS

        if self.language and self.language not in FUNCTION_WORDS:
            raise ValueError(f"language must be one of {', '.join(FUNCTION_WORDS)} or \"\" (every "
                             f"article), got {self.language!r}")


@dataclass(frozen=True)
class MonitorConfig:
    """The whole configuration, as read from one TOML file."""

    sources: tuple[SourceConfig, ...] = ()
    fetch: FetchConfig = field(default_factory=FetchConfig)
    alerts: AlertConfig = field(default_factory=AlertConfig)
    webhooks: tuple[WebhookConfig, ...] = ()
    models: ModelConfig = field(default_factory=ModelConfig)
    tickers: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for ticker, names in self.tickers.items():
            if not re.fullmatch(r"[A-Z]{1,6}", ticker):
                raise ValueError(f"tickers must be 1-6 capital letters, got {ticker!r}")
            if isinstance(names, str) or not all(isinstance(n, str) and n for n in names):
                raise ValueError(f"tickers.{ticker} must be a list of names, got {names!r}")
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique, repeated: {', '.join(dupes)}")
        for kind, urls in (("sources", [s.url for s in self.sources]), ("webhooks", [w.url for w in self.webhooks])):
            if repeated := sorted({u for u in urls if urls.count(u) > 1}):  # polled, or posted to, twice
                raise ValueError(f"two {kind} have the same url {repeated[0]!r}")

    def source(self, name: str) -> SourceConfig:
        """The source called ``name`` (KeyError names the known ones)."""
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(f"no source {name!r}; known: {', '.join(s.name for s in self.sources)}")


TOP_LEVEL = ("sources", "webhooks", "fetch", "alerts", "models", "tickers")
_TYPE_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _type_problem(value: Any, kind: type) -> str | None:
    """Why a TOML value does not fit a field of type ``kind`` (None when it does).

    >>> _type_problem("fast", float), _type_problem(3, float), _type_problem(True, int)
    ('must be a number', None, 'must be an integer')
    >>> _type_problem(float("nan"), float)
    'must be a finite number'
    """
    base = str if isinstance(kind, type) and issubclass(kind, str) else kind
    if base is float:
        if isinstance(value, float) and not math.isfinite(value):  # TOML has nan and inf
            return "must be a finite number"
        fits = isinstance(value, int | float) and not isinstance(value, bool)
    elif base is int:
        fits = isinstance(value, int) and not isinstance(value, bool)
    else:
        fits = isinstance(value, base)
    return None if fits else f"must be {_TYPE_WORDS.get(base, base.__name__)}"


def _entry(key: str, i: int, raw: Any) -> str:
    """How an error names the ``i``-th ``[[key]]`` table: counted from 1, with its name where it
    has one (``[[sources]] 3 ('third')``; it read "[sources.2]")."""
    name = raw.get("name") if isinstance(raw, dict) else None
    return f"[[{key}]] {i + 1}" + (f" ({name!r})" if isinstance(name, str) and name.strip() else "")


def _build(cls: type, raw: Any, where: str, path: Path) -> Any:
    """Instantiate a config dataclass from a TOML table (``where``: how errors name it, "[fetch]"
    or :func:`_entry`), naming unknown keys and bad values."""
    if not isinstance(raw, dict):
        raise DataError(path, None, f"{where} must be a table", EXAMPLE)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise DataError(path, None, f"{where} has unknown keys {', '.join(unknown)}",
                        f"use only {', '.join(sorted(known))}")
    missing = [f.name for f in fields(cls)
               if f.default is MISSING and f.default_factory is MISSING and f.name not in raw]
    if missing:
        raise DataError(path, None, f"{where} is missing {', '.join(missing)}",
                        f"add it ({EXAMPLE})")
    hints = get_type_hints(cls)
    for key, value in raw.items():
        problem = _type_problem(value, hints[key])
        if problem:  # subtle: checked here so a string never reaches __post_init__'s comparisons
            raise DataError(path, None, f"{where} {key} {problem}, got {value!r}",
                            "fix the value in the config")
    try:
        return cls(**raw)
    except (TypeError, ValueError) as exc:
        raise DataError(path, None, f"{where} {exc}", "fix the value in the config") from exc


def parse_config(data: dict[str, Any], path: str | Path = "<config>") -> MonitorConfig:
    """Build a :class:`MonitorConfig` from parsed TOML (a dict)."""
    path = Path(path)
    unknown = sorted(set(data) - set(TOP_LEVEL))
    if unknown:  # subtle: a typo like [[source]] would otherwise poll nothing, silently
        raise DataError(path, None, f"unknown top-level keys {unknown}",
                        f"use only {list(TOP_LEVEL)} ([[sources]] and [[webhooks]] are arrays)")
    for key in ("sources", "webhooks"):
        if not isinstance(data.get(key, []), list):
            raise DataError(path, None, f"{key} must be an array of tables",
                            f"write each one as a [[{key}]] table")
    sources = tuple(_build(SourceConfig, s, _entry("sources", i, s), path)
                    for i, s in enumerate(data.get("sources", [])))
    webhooks = tuple(_build(WebhookConfig, w, _entry("webhooks", i, w), path)
                     for i, w in enumerate(data.get("webhooks", [])))
    parts = {key: _build(cls, data.get(key, {}), f"[{key}]", path)
             for key, cls in (("fetch", FetchConfig), ("alerts", AlertConfig),
                              ("models", ModelConfig))}
    if not isinstance(data.get("tickers", {}), dict):
        raise DataError(path, None, f"tickers must be a table, got {data['tickers']!r}",
                        'write [tickers] with lines like NWB = ["Northwind Bank"]')
    tickers = {k: tuple(v) if isinstance(v, list) else v
               for k, v in data.get("tickers", {}).items()}
    try:
        return MonitorConfig(sources=sources, webhooks=webhooks, tickers=tickers, **parts)
    except ValueError as exc:
        fix = "give each [[sources]] entry its own name" if "source names" in str(exc) else \
            "keep one of them" if "same url" in str(exc) else "fix the [tickers] table"
        raise DataError(path, None, str(exc), fix) from exc


def default_config_path() -> Path:
    """``$VERTICALS_FINANCE_CONFIG``, else :func:`home_config_path`."""
    env = os.environ.get("VERTICALS_FINANCE_CONFIG")
    return Path(env) if env else home_config_path()


def home_config_path() -> Path:
    """``<home>/finance/sources.toml``: the config ``demo`` writes."""
    from shared import get_settings

    return get_settings().home / "finance" / "sources.toml"


def load_config(path: str | Path) -> MonitorConfig:
    """Read a sources TOML file; a missing or malformed file is a one-line ``DataError``."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # Notepad saves a BOM
    except FileNotFoundError as exc:
        raise DataError(path, None, "config file not found",
                        "pass --config PATH or run `verticals finance demo`") from exc
    except IsADirectoryError as exc:
        raise DataError(path, None, "is a directory, not a config file",
                        "pass --config with the sources TOML file inside it") from exc
    except OSError as exc:  # unreadable: permissions, a broken disk, ...
        raise DataError(path, None, f"cannot read the config ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:  # subtle: "not valid TOML ... — fix the syntax" sent users hunting
        raw = path.read_bytes()  # subtle: the offset counts from after a BOM
        line = raw.removeprefix(b"\xef\xbb\xbf")[:exc.start].count(b"\n") + 1
        raise DataError(path, line, "not valid UTF-8", "re-save the file as UTF-8", unit="line") from None
    except tomllib.TOMLDecodeError as exc:
        raise DataError(path, None, f"not valid TOML ({exc})", "fix the syntax") from exc
    return parse_config(data, path)


def render_config(config: MonitorConfig) -> str:
    """Write a config back as TOML text (used to create the demo config)."""
    lines: list[str] = []
    for key in ("fetch", "alerts", "models"):
        lines.append(f"[{key}]")
        lines += [f"{f.name} = {_toml(getattr(getattr(config, key), f.name))}"
                  for f in fields(getattr(config, key))]
        lines.append("")
    for table, items in (("sources", config.sources), ("webhooks", config.webhooks)):
        for item in items:
            lines.append(f"[[{table}]]")
            lines += [f"{f.name} = {_toml(getattr(item, f.name))}" for f in fields(item)]
            lines.append("")
    if config.tickers:
        lines.append("[tickers]")
        lines += [f"{ticker} = [{', '.join(_toml(n) for n in names)}]"
                  for ticker, names in config.tickers.items()]
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
