"""A careful HTTP fetcher: timeouts, retries with backoff, conditional GET, size cap,
content-type check, per-host rate limit, and no private or loopback hosts unless allowed.

>>> fetcher = Fetcher(FetchConfig(timeout_s=5))
>>> result = fetcher.fetch("https://news.example.com/rss.xml", FEED_TYPES)  # doctest: +SKIP
>>> result.not_modified, len(result.content)                                # doctest: +SKIP
(False, 48213)
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from shared.errors import VerticalsError

from .config import FetchConfig

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/xml", "text/xml",
              "application/rdf+xml", "application/feed+json")
HTML_TYPES = ("text/html", "application/xhtml+xml")


class FetchError(VerticalsError):
    """A source that could not be fetched; ``retryable`` says whether trying again may help."""

    def __init__(self, url: str, problem: str, retryable: bool = False) -> None:
        self.url, self.problem, self.retryable = url, problem, retryable
        super().__init__(f"{url}: {problem}")


@dataclass(frozen=True)
class FetchResult:
    """One response: ``content`` is empty when the server said 304 Not Modified."""

    url: str
    status: int
    content: bytes
    content_type: str
    etag: str | None
    last_modified: str | None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def is_public_host(host: str) -> bool:
    """True when every address ``host`` resolves to is a public one.

    >>> is_public_host("127.0.0.1"), is_public_host("10.0.0.8")
    (False, False)
    """
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return True  # subtle: unresolvable hosts fail later with a clear connect error
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%")[0])
        if (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved
                or ip.is_multicast or ip.is_unspecified):
            return False
    return True


class HostRateLimiter:
    """At most one request per ``interval_s`` to each host, shared by all threads."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, host: str) -> float:
        """Block until ``host`` may be contacted; returns the seconds slept."""
        with self._lock:
            now = time.monotonic()
            at = max(now, self._next.get(host, 0.0))
            self._next[host] = at + self.interval_s
        if at > now:
            time.sleep(at - now)
        return max(0.0, at - now)


class Fetcher:
    """A thread-safe HTTP fetcher for one configuration (see module docstring)."""

    def __init__(self, config: FetchConfig, transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        self.limiter = HostRateLimiter(config.min_host_interval_s)
        self.client = httpx.Client(
            timeout=httpx.Timeout(config.timeout_s), follow_redirects=True,
            max_redirects=config.max_redirects, transport=transport,
            headers={"User-Agent": config.user_agent},
            event_hooks={"request": [self._before_request]})

    def close(self) -> None:
        self.client.close()

    def _before_request(self, request: httpx.Request) -> None:
        """Runs for the first request and every redirect hop: address guard, then rate limit."""
        host = request.url.host
        if not self.config.allow_private and not is_public_host(host):
            raise FetchError(str(request.url), f"refused: {host} is a private or loopback "
                             "address (set fetch.allow_private = true to allow it)")
        self.limiter.wait(host)

    def fetch(self, url: str, accept: tuple[str, ...], etag: str | None = None,
              last_modified: str | None = None) -> FetchResult:
        """GET ``url`` with retries; raises :class:`FetchError` with the last problem."""
        if urlsplit(url).scheme not in ("http", "https"):
            raise FetchError(url, "only http and https URLs are fetched")
        headers = {"Accept": ", ".join(accept) + ", */*;q=0.1"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        for attempt in range(self.config.retries + 1):
            try:
                return self._once(url, accept, headers)
            except FetchError as exc:
                if not exc.retryable or attempt == self.config.retries:
                    raise
                time.sleep(self.config.backoff_s * 2**attempt)
        raise AssertionError("unreachable")

    def _once(self, url: str, accept: tuple[str, ...], headers: dict[str, str]) -> FetchResult:
        try:
            with self.client.stream("GET", url, headers=headers) as response:
                return self._read(url, response, accept)
        except httpx.TooManyRedirects as exc:
            raise FetchError(url, f"redirect loop (more than {self.config.max_redirects} "
                             "redirects)") from exc
        except httpx.TimeoutException as exc:
            raise FetchError(url, f"timed out after {self.config.timeout_s}s",
                             retryable=True) from exc
        except httpx.TransportError as exc:
            raise FetchError(url, f"connection failed ({type(exc).__name__}: {exc})",
                             retryable=True) from exc

    def _read(self, url: str, response: httpx.Response, accept: tuple[str, ...]) -> FetchResult:
        status = response.status_code
        if status >= 500 or status == 429:
            raise FetchError(url, f"server error HTTP {status}", retryable=True)
        if status >= 400:
            raise FetchError(url, f"HTTP {status}")
        ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if status != 304 and ctype not in accept:
            raise FetchError(url, f"unexpected content type {ctype or 'none'!r}, "
                             f"expected one of {', '.join(accept)}")
        body = b"" if status == 304 else self._body(url, response)
        return FetchResult(url=str(response.url), status=status, content=body,
                           content_type=ctype, etag=response.headers.get("etag"),
                           last_modified=response.headers.get("last-modified"))

    def _body(self, url: str, response: httpx.Response) -> bytes:
        """Read at most ``max_bytes`` while streaming, within twice the timeout overall."""
        cap = self.config.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise FetchError(url, f"body of {int(declared)} bytes is over the {cap} byte cap")
        deadline = time.monotonic() + 2 * self.config.timeout_s
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > cap:
                raise FetchError(url, f"body is over the {cap} byte cap")
            if time.monotonic() > deadline:  # subtle: a trickling server never trips read timeout
                raise FetchError(url, "body took too long to arrive", retryable=True)
            chunks.append(chunk)
        return b"".join(chunks)
