"""A careful HTTP fetcher: timeouts, retries with backoff, conditional GET, size cap,
content-type check, per-host rate limit, and only public addresses unless private ones are
allowed (checked on every redirect hop, and at connect time on the very address connected to:
see ``guard``).

>>> fetcher = Fetcher(FetchConfig(timeout_s=5))
>>> result = fetcher.fetch("https://news.example.com/rss.xml", FEED_TYPES)  # doctest: +SKIP
>>> result.not_modified, len(result.content)                                # doctest: +SKIP
(False, 48213)
"""

from __future__ import annotations

import re
import socket
import threading
import time
import urllib.request
import zlib
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

import httpx

from .config import FetchConfig
from .errors import FetchError
from .guard import is_public_host, public_only_transport

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/xml", "text/xml",
              "application/rdf+xml", "application/feed+json", "application/json",
              "application/x-rss+xml", "application/x-atom+xml")
# types real feeds are served under too: a feed body under them is read, anything else refused
MISLABELLED_FEED_TYPES = ("text/plain", "application/octet-stream", "text/html", "")
_FEED_START = re.compile(rb"\s*(?:<\?[^>]*\?>\s*|<!--.*?-->\s*|<!DOCTYPE[^>]*>\s*)*<(?:rss|feed|rdf:RDF)\b", re.S)
HTML_TYPES = ("text/html", "application/xhtml+xml")
OVERALL_TIMEOUTS = 3  # a request (redirects, headers and body) gets this many timeout_s in all


@dataclass(frozen=True)
class FetchResult:
    """One response: ``content`` is empty when the server said 304 Not Modified."""

    url: str
    status: int
    content: bytes
    content_type: str
    etag: str | None
    last_modified: str | None
    charset: str | None = None  # from the Content-Type header, if it names one
    moved: bool = False  # reached through permanent redirects (301, 308) only: ``url`` is the new address

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class HostRateLimiter:
    """At most one request per ``interval_s`` to each host, shared by all threads."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def reserve(self, host: str) -> float:
        """Book the next turn for ``host``; returns the seconds to wait before using it."""
        with self._lock:
            now = time.monotonic()
            at = max(now, self._next.get(host, 0.0))
            self._next[host] = at + self.interval_s
        return at - now


class Deadline:
    """An overall time limit for one request, redirects included: when it passes, the sockets
    the request used are shut down, so a blocked read fails at once.

    subtle: httpx's timeout bounds each socket read; a server dripping its headers one byte per
    half second never tripped it, and one such source held up a whole poll for good.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds, self.passed = seconds, False
        self._ends = time.monotonic() + seconds
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._arm()

    def _arm(self) -> None:
        self._timer = threading.Timer(max(0.0, self._ends - time.monotonic()), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def extend(self, seconds: float) -> None:
        """Move the end ``seconds`` later: time spent waiting on purpose (the host rate limit)
        is not the server's."""
        with self._lock:
            if seconds > 0 and not self.passed:
                self._timer.cancel()
                self._ends += seconds
                self._arm()

    def trace(self, event: str, info: dict) -> None:
        """httpx's ``trace`` extension: note each socket as its connection opens."""
        if event != "connection.connect_tcp.complete":
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is not None:
            with self._lock:
                self._sockets.append(sock)
                if self.passed:
                    _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            if time.monotonic() < self._ends:  # a timer that extend() replaced
                return
            self.passed = True
            for sock in self._sockets:
                _shut(sock)

    def cancel(self) -> None:
        self._timer.cancel()


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # closed already


class Inflater:
    """A zlib decompressor for one ``Content-Encoding``; the caller bounds each output step.
    ``Inflater.for_encoding(url, "gzip")``; ``None`` for no encoding, and any other encoding, or
    a stack of them, is a :class:`FetchError`.

    subtle: "deflate" is meant to be zlib-wrapped, but many servers send it raw (httpx reads
    both); raw is tried when the zlib header is refused before any output. A gzip body may hold
    several members (RFC 1952): each is read in turn.
    """

    REPLAY = 1024  # input kept to start again as raw deflate, while nothing came out yet

    def __init__(self, wbits: int) -> None:
        self.wbits, self._zlib, self.unconsumed_tail = wbits, zlib.decompressobj(wbits), b""
        self._head: bytes | None = b"" if wbits == zlib.MAX_WBITS else None

    @classmethod
    def for_encoding(cls, url: str, encoding: str) -> Inflater | None:
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            return None
        if encoding in ("gzip", "x-gzip"):
            return cls(16 + zlib.MAX_WBITS)
        if encoding == "deflate":
            return cls(zlib.MAX_WBITS)
        raise FetchError(url, f"unsupported content encoding {encoding!r} (gzip, deflate or none)")

    def decompress(self, data: bytes, max_length: int) -> bytes:
        try:
            out = self._zlib.decompress(data, max_length)
        except zlib.error:
            if self._head is None:
                raise
            replay, self._head = self._head + data, None
            self.wbits, self._zlib = -zlib.MAX_WBITS, zlib.decompressobj(-zlib.MAX_WBITS)
            return self.decompress(replay, max_length)
        if self._head is not None:
            self._head = None if out or len(self._head) + len(data) > self.REPLAY else self._head + data
        self.unconsumed_tail = self._zlib.unconsumed_tail
        if self._zlib.eof and self._zlib.unused_data and self.wbits > zlib.MAX_WBITS:  # gzip
            self.unconsumed_tail = self._zlib.unused_data
            self._zlib = zlib.decompressobj(self.wbits)
        return out

    @property
    def eof(self) -> bool:
        return self._zlib.eof


class Fetcher:
    """A thread-safe HTTP fetcher for one configuration (see module docstring)."""

    def __init__(self, config: FetchConfig, transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        self.limiter = HostRateLimiter(config.min_host_interval_s)
        # subtle: behind a proxy (httpx reads the *_proxy variables) the proxy resolves names
        # and connects, so only the name check applies, and a name we cannot resolve
        # ourselves is left to the proxy
        proxies = set(urllib.request.getproxies())  # keys: schemes, and "no" for no_proxy
        self.proxied = transport is None and bool(proxies & {"http", "https", "all"})
        if transport is None and not self.proxied and not config.allow_private:
            transport = public_only_transport()
        self.client = httpx.Client(
            timeout=httpx.Timeout(config.timeout_s), transport=transport,
            headers={"User-Agent": config.user_agent})

    def close(self) -> None:
        self.client.close()

    def _before_request(self, request: httpx.Request, deadline: Deadline) -> None:
        """Runs for the first request and every redirect hop: address guard, then rate limit
        (the wait moves the deadline: it is not the server's time)."""
        host = request.url.host
        if not self.config.allow_private:
            try:
                public = is_public_host(host)
            except FetchError as exc:
                if not self.proxied:
                    raise FetchError(str(request.url), exc.problem, exc.retryable) from exc
                public = True
            if not public:
                raise FetchError(str(request.url), f"refused: {host} is not a public address "
                                 "(set fetch.allow_private = true to allow private ones)")
        wait = self.limiter.reserve(host)
        if wait > 0:
            deadline.extend(wait)
            time.sleep(wait)

    def fetch(self, url: str, accept: tuple[str, ...], etag: str | None = None,
              last_modified: str | None = None) -> FetchResult:
        """GET ``url`` with retries; raises :class:`FetchError` with the last problem."""
        if urlsplit(url).scheme not in ("http", "https"):
            raise FetchError(url, "only http and https URLs are fetched")
        # subtle: only what _body decodes itself, with its output bounded by the cap
        # subtle: "close": the deadline sees a connection's socket only as it opens, and a
        # kept-alive one dripping its next response would have run on without limit
        headers = {"Accept": ", ".join(accept) + ", */*;q=0.1", "Accept-Encoding": "gzip, deflate",
                   "Connection": "close"}
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
        """One GET, following redirects here so that no redirect's body is ever read.

        subtle: httpx following them itself read each 3xx body whole, decoded, before the size
        cap saw anything: a 663-byte redirect grew to 600 MB in memory."""
        deadline = Deadline(OVERALL_TIMEOUTS * self.config.timeout_s)
        try:
            request = self.client.build_request("GET", url, headers=headers,
                                                extensions={"trace": deadline.trace})
            permanent = None  # whether every redirect so far was permanent (None: no redirect)
            for _hop in range(self.config.max_redirects + 1):
                self._before_request(request, deadline)
                response = self.client.send(request, stream=True)
                try:
                    if response.next_request is None:
                        result = self._read(url, response, accept)
                        if deadline.passed:  # subtle: a shut socket can read as a body's end
                            raise httpx.ReadError("deadline passed")
                        return replace(result, moved=bool(permanent))
                    permanent = permanent is not False and response.status_code in (301, 308)
                    request = response.next_request
                finally:
                    response.close()
            raise FetchError(url, f"redirect loop (more than {self.config.max_redirects} redirects)")
        except FetchError as exc:  # the backend names only the host: report the URL fetched
            raise FetchError(url, exc.problem, exc.retryable) from exc
        except httpx.TransportError as exc:
            if deadline.passed:
                raise FetchError(url, f"took over {deadline.seconds:g}s in all (a server sending "
                                 "slowly)", retryable=True) from exc
            if isinstance(exc, httpx.TimeoutException):
                raise FetchError(url, f"timed out after {self.config.timeout_s}s",
                                 retryable=True) from exc
            raise FetchError(url, f"connection failed ({type(exc).__name__}: {exc})",
                             retryable=True) from exc
        finally:
            deadline.cancel()

    def _read(self, url: str, response: httpx.Response, accept: tuple[str, ...]) -> FetchResult:
        status = response.status_code
        if status == 429:
            # subtle: retried 0.2 s later, against the server's "Retry-After: 120", and reported
            # as a server error; the next poll tries again
            wait = response.headers.get("retry-after", "").strip()
            raise FetchError(url, "rate limited by the server (HTTP 429" + (f", Retry-After {wait}" if wait else "")
                             + "): the next poll tries again; if it persists, raise interval_s for this source")
        if status >= 500:
            raise FetchError(url, f"server error HTTP {status}", retryable=True)
        if status >= 400:
            raise FetchError(url, f"HTTP {status}")
        ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
        body = None
        if status != 304 and ctype not in accept:
            # subtle: a feed served as text/plain or text/html (common) was refused, and the
            # advice to read it as a page failed too: under such a type, a feed's body decides
            if accept == FEED_TYPES and ctype in MISLABELLED_FEED_TYPES:
                body = self._body(url, response)
            if body is None or not looks_like_feed(body):
                # the source's kind in the config (config.SourceKind) decides what is accepted
                fix = ('; it is an HTML page: set kind = "page" (one article) or "links" (a front page of '
                       'headlines) for this source' if ctype in HTML_TYPES else
                       '; it is a feed: set kind = "feed" for this source' if ctype in FEED_TYPES else "")
                raise FetchError(url, f"unexpected content type {ctype or 'none'!r}, "
                                 f"expected one of {', '.join(accept)}{fix}")
        if body is None:
            body = b"" if status == 304 else self._body(url, response)
        return FetchResult(url=str(response.url), status=status, content=body,
                           content_type=ctype, etag=response.headers.get("etag"),
                           last_modified=response.headers.get("last-modified"),
                           charset=response.charset_encoding)

    def _body(self, url: str, response: httpx.Response) -> bytes:
        """Read at most ``max_bytes`` of decoded body while streaming.

        subtle: httpx decodes each network chunk whole before handing it over, so a 1,827-byte
        body gzipped twice grew to 2 GB in memory before a cap on ``iter_bytes`` saw it. The
        raw bytes are read instead and inflated here, never more than the cap allows.
        """
        cap = self.config.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise FetchError(url, f"body of {int(declared)} bytes is over the {cap} byte cap "
                                  "([fetch] max_bytes in the config)")
        decoder = Inflater.for_encoding(url, response.headers.get("content-encoding", ""))
        chunks, size = [], 0
        for raw in response.iter_raw():
            pending = raw
            while pending:
                if decoder is None:
                    out, pending = pending, b""
                else:
                    try:
                        out = decoder.decompress(pending, cap + 1 - size)
                    except zlib.error as exc:
                        raise FetchError(url, f"corrupt compressed body ({exc})") from exc
                    pending = decoder.unconsumed_tail
                size += len(out)
                if size > cap:
                    raise FetchError(url, f"body is over the {cap} byte cap ([fetch] max_bytes in the config)")
                chunks.append(out)
        # subtle: where the body's end is only the connection closing (no length, not chunked),
        # a compressed stream that did not finish was cut short
        framed = "content-length" in response.headers or "chunked" in response.headers.get(
            "transfer-encoding", "").lower()
        if decoder is not None and size and not framed and not decoder.eof:
            raise FetchError(url, "compressed body ended early", retryable=True)
        return b"".join(chunks)


def looks_like_feed(body: bytes) -> bool:
    r"""Whether a body is an RSS, Atom or RDF document or a JSON Feed, whatever its server calls it.

    >>> looks_like_feed(b'<?xml version="1.0"?><!-- hi --><rss version="2.0">'), looks_like_feed(b"<html>")
    (True, False)
    >>> looks_like_feed(b'<?xml version="1.0"?>\n<!DOCTYPE rss PUBLIC "-//Netscape" "x.dtd">\n<rss version="0.91">')
    True
    """
    body = body.removeprefix(b"\xef\xbb\xbf")
    return bool(_FEED_START.match(body[:4096])) or (
        body.lstrip()[:1] == b"{" and b"jsonfeed.org/version" in body[:4096])
