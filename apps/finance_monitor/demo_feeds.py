"""A local HTTP server that replays ``datasets/finance/stream.csv`` as RSS feeds.

Time runs ``speed`` times faster than the wall clock from ``start_offset_h`` hours into the
stream, so five days of headlines (with the negative surge on day four) play in minutes.
Each outlet is a feed at ``/feeds/<outlet>.xml``; each story a page at ``/articles/<id>``.
Feeds carry an ETag and answer ``If-None-Match`` with 304, like a well-behaved publisher.

    server = DemoFeedServer(port=0, speed=1800).start()   # background thread
    server.url("/feeds/wire.xml")                          # -> 'http://127.0.0.1:PORT/feeds/...'
"""

from __future__ import annotations

import csv
import hashlib
import html
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from shared.errors import VerticalsError

from .training import DEMO_DIR

STREAM = DEMO_DIR / "stream.csv"


@dataclass(frozen=True)
class StreamItem:
    id: str
    published: datetime
    outlet: str
    title: str
    summary: str


def load_stream(path: str | Path = STREAM) -> list[StreamItem]:
    """The replayable stream, oldest first."""
    with Path(path).open(encoding="utf-8", newline="") as handle:
        items = [StreamItem(r["id"], datetime.fromisoformat(r["published"]), r["outlet"],
                            r["title"], r["summary"]) for r in csv.DictReader(handle)]
    return sorted(items, key=lambda i: i.published)


def render_rss(items: list[StreamItem], title: str, base_url: str) -> bytes:
    """RSS 2.0 for ``items`` (newest first), every field escaped."""
    entries = "".join(
        f"<item><title>{html.escape(i.title)}</title>"
        f"<link>{base_url}/articles/{i.id}</link><guid>{base_url}/articles/{i.id}</guid>"
        f"<pubDate>{format_datetime(i.published)}</pubDate>"
        f"<description>{html.escape(i.summary)}</description></item>"
        for i in sorted(items, key=lambda i: i.published, reverse=True))
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>{html.escape(title)}</title><link>{base_url}/</link>"
            f"<description>Replayed demo headlines</description>{entries}</channel></rss>"
            ).encode()


def render_page(item: StreamItem) -> bytes:
    """A small article page, enough for trafilatura to find title, date and body."""
    body = item.summary or item.title
    return (f"<!doctype html><html><head><title>{html.escape(item.title)}</title>"
            f'<meta name="date" content="{item.published.date().isoformat()}"></head><body>'
            f"<nav>Home | Markets | Companies</nav><article><h1>{html.escape(item.title)}</h1>"
            f"<p>{html.escape(body)} Analysts said they would follow the story closely as "
            f"more details emerge over the coming days.</p></article>"
            f"<footer>Demo outlet {html.escape(item.outlet)}</footer></body></html>"
            ).encode()


class ReplayClock:
    """Maps wall-clock time to stream time; ``speed = 0`` shows the whole stream at once."""

    def __init__(self, items: list[StreamItem], speed: float, start_offset_h: float) -> None:
        self.origin = items[0].published + timedelta(hours=start_offset_h)
        self.end = items[-1].published
        self.speed, self.started = speed, time.monotonic()

    def now(self) -> datetime:
        if self.speed <= 0:
            return self.end
        return self.origin + timedelta(seconds=(time.monotonic() - self.started) * self.speed)


class DemoFeedServer:
    """The replay server; ``start()`` serves from a daemon thread, ``stop()`` shuts it down."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, speed: float = 1800.0,
                 start_offset_h: float = 60.0, limit: int = 500,
                 stream: str | Path = STREAM) -> None:
        self.items = load_stream(stream)
        self.clock = ReplayClock(self.items, speed, start_offset_h)
        self.limit = limit
        try:
            self.httpd = ThreadingHTTPServer((host, port), _handler(self))
        except OSError as err:
            raise VerticalsError(f"cannot serve the demo feeds on {host}:{port} ({err.strerror}): "
                                 "stop what holds the port (`ps aux | grep demo-feeds`) or pass "
                                 "--port") from None
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def outlets(self) -> list[str]:
        return sorted({i.outlet for i in self.items})

    def visible(self, outlet: str) -> list[StreamItem]:
        now = self.clock.now()
        shown = [i for i in self.items if i.outlet == outlet and i.published <= now]
        return shown[-self.limit:]

    def start(self) -> DemoFeedServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler(server: DemoFeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep the demo's terminal quiet
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            path = self.path.split("?")[0]
            if path.startswith("/feeds/") and path.endswith(".xml"):
                outlet = path[len("/feeds/"):-len(".xml")]
                if outlet in server.outlets():
                    body = render_rss(server.visible(outlet), outlet, server.url())
                    return self._send(body, "application/rss+xml")
            if path.startswith("/articles/"):
                found = [i for i in server.items if i.id == path[len("/articles/"):]]
                if found:
                    return self._send(render_page(found[0]), "text/html")
            self._send(b"not found", "text/plain", status=404)

        def _send(self, body: bytes, ctype: str, status: int = 200) -> None:
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            if status == 200 and self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(status)
            self.send_header("Content-Type", f"{ctype}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)

    return Handler
