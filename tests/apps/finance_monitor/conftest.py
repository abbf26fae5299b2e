"""Finance monitor fixtures: a misbehaving local news server, a webhook receiver, and the two
small models trained once per session (1 epoch, short sequences)."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from apps.finance_monitor.config import (
    AlertConfig,
    FetchConfig,
    ModelConfig,
    MonitorConfig,
    SourceConfig,
    WebhookConfig,
)

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "datasets" / "finance"


def rss(items: list[tuple[str, str, str]], when: datetime | None = None) -> bytes:
    """An RSS document of (link, title, description) items."""
    when = when or datetime(2026, 3, 2, 9, tzinfo=UTC)
    body = "".join(f"<item><title>{t}</title><link>{link}</link><description>{d}</description>"
                   f"<pubDate>{format_datetime(when)}</pubDate></item>" for link, t, d in items)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{body}'
            "</channel></rss>").encode()


class Route:
    """What the fault server answers on one path: status, headers, body, or a callable."""

    def __init__(self, body: bytes = b"", status: int = 200, ctype: str = "application/rss+xml",
                 headers: dict | None = None, handler: Callable | None = None) -> None:
        self.body, self.status, self.ctype = body, status, ctype
        self.headers, self.handler = headers or {}, handler


class FaultServer:
    """A real threading HTTP server on 127.0.0.1 (random port) with scriptable routes."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.requests: list[tuple[str, dict]] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                self._serve()

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                server.requests.append((self.path, {"body": self.rfile.read(length)}))
                self._serve()

            def _serve(self) -> None:
                server.hits[self.path] += 1
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                if route.handler is not None:
                    route.handler(self, server.hits[self.path])
                    return
                self.send_response(route.status)
                self.send_header("Content-Type", route.ctype)
                self.send_header("Content-Length", str(len(route.body)))
                for key, value in route.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(route.body)

        return Handler

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[FaultServer]:
    srv = FaultServer()
    yield srv
    srv.close()


def hang(seconds: float) -> Callable:
    def handler(request: BaseHTTPRequestHandler, _hit: int) -> None:
        time.sleep(seconds)
        try:
            request.send_response(200)
            request.end_headers()
        except OSError:
            pass
    return handler


def fast_fetch(**overrides: object) -> FetchConfig:
    """Test fetch settings: localhost allowed, short timeouts and backoff, small cap."""
    params = dict(timeout_s=0.5, retries=1, backoff_s=0.05, max_bytes=200_000,
                  min_host_interval_s=0.0, allow_private=True)
    params.update(overrides)
    return FetchConfig(**params)


def make_config(sources: list[tuple[str, str]], models: ModelConfig | None = None,
                webhooks: tuple[WebhookConfig, ...] = (), **fetch: object) -> MonitorConfig:
    return MonitorConfig(sources=tuple(SourceConfig(n, u, interval_s=1) for n, u in sources),
                         fetch=fast_fetch(**fetch), webhooks=webhooks,
                         alerts=AlertConfig(window_hours=6, min_volume=4),
                         models=models or ModelConfig())


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> ModelConfig:
    """Sentiment and topic models trained once (1 epoch, 120 rows) into a session registry;
    the config names them by directory, so any test's fresh home can load them.

    ``FINANCE_TEST_MODELS=/some/dir`` keeps them between runs (a developer's shortcut).
    """
    from apps.finance_monitor.demo import DEMO_CAVEAT
    from apps.finance_monitor.training import TrainPlan, train_models
    from shared import Registry, TrainConfig

    keep = os.environ.get("FINANCE_TEST_MODELS")
    registry = Registry(Path(keep) if keep else tmp_path_factory.mktemp("finance-models"))
    names = ModelConfig()
    if registry.current(names.sentiment) is None or registry.current(names.topic) is None:
        folder = tmp_path_factory.mktemp("finance-data")
        lines = (DATA / "train.csv").read_text().splitlines()
        (folder / "train.csv").write_text("\n".join(lines[:121]) + "\n")
        plan = TrainPlan(folder / "train.csv", folder / "train.csv", DATA / "test.csv", caveat=DEMO_CAVEAT)
        config = TrainConfig(epochs=1, max_length=32, batch_size=16)
        train_models(plan, config, names, registry)
    return ModelConfig(sentiment=str(registry.path(names.sentiment)),
                       topic=str(registry.path(names.topic)))
