"""The fetcher and parsers against a real local HTTP server that misbehaves on purpose."""

from __future__ import annotations

import ipaddress
import json
import socket
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler

import pytest

from apps.finance_monitor import guard
from apps.finance_monitor.config import SourceConfig, SourceKind
from apps.finance_monitor.errors import FetchError
from apps.finance_monitor.fetch import FEED_TYPES, Fetcher
from apps.finance_monitor.sources import parse_feed, parse_links, parse_page, poll_source, strip_html

from .conftest import Route, fast_fetch, hang, rss

FEED = rss([("http://x/1", "Northwind Bank profit jumps", "<p>Profit <b>up</b> 20%</p>")])


def test_feed_is_parsed_and_conditional_get_returns_304(server) -> None:
    def conditional(request: BaseHTTPRequestHandler, _hit: int) -> None:
        if request.headers.get("If-None-Match") == '"v1"':
            request.send_response(304)
            request.end_headers()
            return
        request.send_response(200)
        request.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        request.send_header("ETag", '"v1"')
        request.send_header("Content-Length", str(len(FEED)))
        request.end_headers()
        request.wfile.write(FEED)

    server.routes["/feed.xml"] = Route(handler=conditional)
    source = SourceConfig("s", server.url("/feed.xml"))
    fetcher = Fetcher(fast_fetch())
    first = poll_source(fetcher, source)
    assert [a.title for a in first.articles] == ["Northwind Bank profit jumps"]
    assert first.articles[0].text == "Profit up 20%"  # HTML stripped from the summary
    second = poll_source(fetcher, source, etag=first.result.etag)
    assert second.result.not_modified and second.articles == []


def test_server_errors_are_retried_then_reported(server) -> None:
    server.routes["/down"] = Route(status=500)
    with pytest.raises(FetchError, match="HTTP 500"):
        Fetcher(fast_fetch(retries=2)).fetch(server.url("/down"), FEED_TYPES)
    assert server.hits["/down"] == 3  # first try + 2 retries


def test_a_rate_limit_is_not_retried_within_the_poll(server) -> None:
    """A 429 had been retried 0.2 s later, against the server's Retry-After, as a server error."""
    server.routes["/busy"] = Route(status=429, headers={"Retry-After": "120"})
    with pytest.raises(FetchError, match=r"rate limited by the server \(HTTP 429, Retry-After 120\)"):
        Fetcher(fast_fetch(retries=2)).fetch(server.url("/busy"), FEED_TYPES)
    assert server.hits["/busy"] == 1


def test_a_transient_error_recovers_on_retry(server) -> None:
    def flaky(request: BaseHTTPRequestHandler, hit: int) -> None:
        request.send_response(503 if hit == 1 else 200)
        request.send_header("Content-Type", "application/rss+xml")
        request.send_header("Content-Length", str(len(FEED)))
        request.end_headers()
        request.wfile.write(FEED)

    server.routes["/flaky"] = Route(handler=flaky)
    result = Fetcher(fast_fetch()).fetch(server.url("/flaky"), FEED_TYPES)
    assert result.status == 200 and server.hits["/flaky"] == 2


def test_a_hanging_server_times_out(server) -> None:
    server.routes["/hang"] = Route(handler=hang(3))
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out"):
        Fetcher(fast_fetch(timeout_s=0.3, retries=1)).fetch(server.url("/hang"), FEED_TYPES)
    assert time.monotonic() - started < 2.5


def test_malformed_xml_is_a_clear_error(server) -> None:
    server.routes["/bad.xml"] = Route(body=b"<rss><channel><item><title>oops</ti")
    with pytest.raises(FetchError, match="malformed feed"):
        poll_source(Fetcher(fast_fetch()), SourceConfig("s", server.url("/bad.xml")))


def test_an_html_page_served_as_xml_is_no_healthy_empty_feed(server) -> None:
    server.routes["/page.xml"] = Route(body=b"<!DOCTYPE html><html><body><h1>News</h1></body></html>")
    with pytest.raises(FetchError, match='not an RSS/Atom feed; it is an HTML page: set kind = "page"'):
        poll_source(Fetcher(fast_fetch()), SourceConfig("s", server.url("/page.xml")))
    server.routes["/sloppy.xml"] = Route(body=b"<html><body><p>News<br>more & more</body>")  # malformed as XML
    with pytest.raises(FetchError, match='not an RSS/Atom feed; it is an HTML page: set kind = "page"'):
        poll_source(Fetcher(fast_fetch()), SourceConfig("s", server.url("/sloppy.xml")))
    server.routes["/other.xml"] = Route(body=b"<catalogue><book>x</book></catalogue>")
    with pytest.raises(FetchError, match="not an RSS/Atom feed"):
        poll_source(Fetcher(fast_fetch()), SourceConfig("s", server.url("/other.xml")))
    server.routes["/empty.xml"] = Route(body=b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
                                             b"</channel></rss>")
    assert poll_source(Fetcher(fast_fetch()), SourceConfig("s", server.url("/empty.xml"))).articles == []


def test_a_huge_body_is_cut_off_while_streaming(server) -> None:
    def endless(request: BaseHTTPRequestHandler, _hit: int) -> None:
        request.send_response(200)
        request.send_header("Content-Type", "application/rss+xml")
        request.end_headers()  # no Content-Length: the cap must trip while reading
        chunk = b"x" * 65536
        try:
            for _ in range(800):  # 50 MB if nobody stops reading
                request.wfile.write(chunk)
        except OSError:
            pass

    server.routes["/huge"] = Route(handler=endless)
    server.routes["/declared"] = Route(body=b"x" * 300_000)
    fetcher = Fetcher(fast_fetch(max_bytes=100_000))
    with pytest.raises(FetchError, match="cap"):
        fetcher.fetch(server.url("/huge"), FEED_TYPES)
    with pytest.raises(FetchError, match="300000 bytes is over"):
        fetcher.fetch(server.url("/declared"), FEED_TYPES)


def test_compressed_bodies_are_inflated_within_the_cap(server) -> None:
    """A few kilobytes that inflate to 200 MB stop at the cap without ever being inflated
    whole; a body compressed twice is refused; an honest gzip body reads as it was."""
    import gzip
    import io
    import zlib

    def zeros_gzip(megabytes: int) -> bytes:
        buffer = io.BytesIO()
        with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9) as out:
            for _ in range(megabytes):
                out.write(bytes(1 << 20))
        return buffer.getvalue()

    bomb = zeros_gzip(200)
    server.routes["/bomb"] = Route(body=bomb, headers={"Content-Encoding": "gzip"})
    server.routes["/twice"] = Route(body=gzip.compress(gzip.compress(FEED)),
                                    headers={"Content-Encoding": "gzip, gzip"})
    server.routes["/gz"] = Route(body=gzip.compress(FEED), headers={"Content-Encoding": "gzip"})
    server.routes["/deflate"] = Route(body=zlib.compress(FEED), headers={"Content-Encoding": "deflate"})
    fetcher = Fetcher(fast_fetch(max_bytes=1_000_000))
    assert len(bomb) < 300_000  # under the cap as sent
    with pytest.raises(FetchError, match="body is over the 1000000 byte cap"):
        fetcher.fetch(server.url("/bomb"), FEED_TYPES)
    with pytest.raises(FetchError, match="unsupported content encoding 'gzip, gzip'"):
        fetcher.fetch(server.url("/twice"), FEED_TYPES)
    assert fetcher.fetch(server.url("/gz"), FEED_TYPES).content == FEED
    assert fetcher.fetch(server.url("/deflate"), FEED_TYPES).content == FEED
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)  # "deflate" as many servers send it: no header
    server.routes["/raw"] = Route(body=raw.compress(FEED) + raw.flush(), headers={"Content-Encoding": "deflate"})
    assert fetcher.fetch(server.url("/raw"), FEED_TYPES).content == FEED
    half = len(FEED) // 2  # two gzip members, as RFC 1952 allows
    server.routes["/members"] = Route(body=gzip.compress(FEED[:half]) + gzip.compress(FEED[half:]),
                                      headers={"Content-Encoding": "gzip"})
    assert fetcher.fetch(server.url("/members"), FEED_TYPES).content == FEED
    server.routes["/empty"] = Route(body=b"", headers={"Content-Encoding": "gzip"})
    assert fetcher.fetch(server.url("/empty"), FEED_TYPES).content == b""

    def cut(request: BaseHTTPRequestHandler, _hit: int) -> None:  # no length: ends as it closes
        request.send_response(200)
        request.send_header("Content-Type", "application/rss+xml")
        request.send_header("Content-Encoding", "gzip")
        request.end_headers()
        request.wfile.write(gzip.compress(FEED)[:-12])

    server.routes["/cut"] = Route(handler=cut)
    with pytest.raises(FetchError, match="compressed body ended early"):
        fetcher.fetch(server.url("/cut"), FEED_TYPES)


def test_a_redirects_body_is_never_read(server) -> None:
    """A 302 whose few hundred bytes inflate to 200 MB: the redirect is followed, its body left
    unread (httpx following redirects itself decoded it whole, stacked gzip included)."""
    import gzip
    import tracemalloc

    bomb = gzip.compress(gzip.compress(bytes(200 << 20), compresslevel=9))
    server.routes["/moved"] = Route(body=bomb, status=302, headers={
        "Location": "/feed.xml", "Content-Encoding": "gzip, gzip"})
    server.routes["/feed.xml"] = Route(body=FEED)
    tracemalloc.start()
    try:
        result = Fetcher(fast_fetch()).fetch(server.url("/moved"), FEED_TYPES)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.content == FEED and result.url.endswith("/feed.xml")
    assert peak < 20 << 20, peak


def slowly(request: BaseHTTPRequestHandler, data: bytes) -> None:
    """Send ``data`` a byte every 50 ms, each within any read timeout, until the client hangs up."""
    try:
        for byte in data:
            request.wfile.write(bytes([byte]))
            request.wfile.flush()
            time.sleep(0.05)
    except OSError:
        pass


def test_a_server_dripping_its_headers_is_cut_off_overall(server) -> None:
    """Each byte arrives within the read timeout; the request as a whole may not take longer
    than three timeouts (it used to hold a poll for good)."""
    def drip(request: BaseHTTPRequestHandler, _hit: int) -> None:
        slowly(request, b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n" + b"X-Slow: " + b"a" * 200)

    server.routes["/drip"] = Route(handler=drip)
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"took over 0.6s in all \(a server sending slowly\)"):
        Fetcher(fast_fetch(timeout_s=0.2, retries=0)).fetch(server.url("/drip"), FEED_TYPES)
    assert time.monotonic() - started < 3


def test_a_body_cut_short_by_the_deadline_is_an_error_not_a_feed(server) -> None:
    """A body without a length ends when the connection does; the deadline shutting the socket
    must not read as its end (the first bytes used to come back as the whole feed)."""
    def trickle(request: BaseHTTPRequestHandler, _hit: int) -> None:
        request.send_response(200)
        request.send_header("Content-Type", "application/rss+xml")
        request.end_headers()  # HTTP/1.0, no Content-Length: the body ends with the connection
        slowly(request, FEED)

    server.routes["/trickle"] = Route(handler=trickle)
    with pytest.raises(FetchError, match="took over 0.6s in all"):
        Fetcher(fast_fetch(timeout_s=0.2, retries=0)).fetch(server.url("/trickle"), FEED_TYPES)


def test_waiting_for_the_host_rate_limit_is_not_the_servers_time(server) -> None:
    server.routes["/feed.xml"] = Route(body=FEED)
    fetcher = Fetcher(fast_fetch(timeout_s=0.2, retries=0, min_host_interval_s=1.0))
    for _ in range(2):  # the second waits 1 s, past the 0.6 s deadline, before it is sent
        assert fetcher.fetch(server.url("/feed.xml"), FEED_TYPES).content == FEED


def test_a_redirect_loop_is_stopped(server) -> None:
    server.routes["/loop"] = Route(status=302, headers={"Location": "/loop"})
    with pytest.raises(FetchError, match="redirect loop"):
        Fetcher(fast_fetch(max_redirects=3)).fetch(server.url("/loop"), FEED_TYPES)
    assert server.hits["/loop"] == 4


def test_wrong_content_type_is_refused(server) -> None:
    server.routes["/page"] = Route(body=b"<html>hi</html>", ctype="text/html")
    with pytest.raises(FetchError, match="unexpected content type 'text/html', expected one of .*; it is an "
                                         "HTML page: set kind = \"page\" \\(one article\\) or \"links\""):
        poll_source(Fetcher(fast_fetch()), SourceConfig("s", server.url("/page")))
    server.routes["/feed.xml"] = Route(body=FEED)
    with pytest.raises(FetchError, match='it is a feed: set kind = "feed" for this source'):
        poll_source(Fetcher(fast_fetch()), SourceConfig("s", server.url("/feed.xml"), kind=SourceKind.PAGE))


@pytest.mark.parametrize("ctype", ["application/x-rss+xml", "text/plain", "application/octet-stream",
                                   "text/html; charset=utf-8", ""])
def test_a_feed_under_another_type_is_read_by_its_body(server, ctype) -> None:
    """Real feeds come as text/plain or text/html too: they were refused, and the advice to read
    one as a page failed as well."""
    server.routes["/feed"] = Route(body=b"\xef\xbb\xbf" + FEED, ctype=ctype)
    [article] = poll_source(Fetcher(fast_fetch()), SourceConfig("s", server.url("/feed"))).articles
    assert article.title == "Northwind Bank profit jumps"


def test_private_addresses_are_refused_unless_allowed(server) -> None:
    server.routes["/feed.xml"] = Route(body=FEED)
    with pytest.raises(FetchError, match="not a public address"):
        Fetcher(fast_fetch(allow_private=False)).fetch(server.url("/feed.xml"), FEED_TYPES)
    assert server.hits["/feed.xml"] == 0  # refused before any byte was sent


@pytest.mark.parametrize("url", ["http://100.100.100.200/latest/meta-data/",  # cloud metadata
                                 "http://169.254.169.254/", "http://[::ffff:127.0.0.1]:1/",
                                 "http://0.0.0.0:1/"])
def test_non_global_addresses_are_refused_before_connecting(url: str) -> None:
    with pytest.raises(FetchError, match="not a public address"):
        Fetcher(fast_fetch(allow_private=False, retries=0)).fetch(url, FEED_TYPES)


def test_a_name_that_does_not_resolve_is_a_fetch_error(monkeypatch) -> None:
    def no_dns(*_args: object) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(FetchError, match="could not resolve news.example.com"):
        Fetcher(fast_fetch(allow_private=False, retries=0)).fetch(
            "http://news.example.com/rss.xml", FEED_TYPES)


def test_a_name_that_rebinds_to_loopback_is_never_connected_to(server, monkeypatch) -> None:
    server.routes["/feed.xml"] = Route(body=FEED)
    # a rebinding DNS server: "public" to the first lookup, 127.0.0.1 to every later one
    answers = iter([ipaddress.ip_address("93.184.216.34")])
    monkeypatch.setattr(guard, "resolve", lambda host: [next(answers, ipaddress.ip_address(host))])
    with pytest.raises(FetchError, match="resolves to 127.0.0.1, which is not public") as caught:
        Fetcher(fast_fetch(allow_private=False)).fetch(server.url("/feed.xml"), FEED_TYPES)
    assert caught.value.url == server.url("/feed.xml") and not caught.value.retryable
    assert server.hits["/feed.xml"] == 0  # the connection itself was refused


def test_every_redirect_hop_is_checked(server, monkeypatch) -> None:
    server.routes["/feed.xml"] = Route(body=FEED)
    server.routes["/hop"] = Route(status=302, headers={"Location": "http://100.100.100.200/x"})
    real = guard.is_public_ip
    # the local server stands in for a public site
    monkeypatch.setattr(guard, "is_public_ip", lambda ip: str(ip) == "127.0.0.1" or real(ip))
    fetcher = Fetcher(fast_fetch(allow_private=False))
    assert fetcher.fetch(server.url("/feed.xml"), FEED_TYPES).status == 200
    with pytest.raises(FetchError, match="100.100.100.200 is not a public address"):
        fetcher.fetch(server.url("/hop"), FEED_TYPES)
    assert server.hits["/hop"] == 1


def test_per_host_rate_limit_spaces_requests(server) -> None:
    server.routes["/feed.xml"] = Route(body=FEED)
    fetcher = Fetcher(fast_fetch(min_host_interval_s=0.3))
    started = time.monotonic()
    for _ in range(3):
        fetcher.fetch(server.url("/feed.xml"), FEED_TYPES)
    assert time.monotonic() - started >= 0.6


def test_html_page_text_is_extracted(server) -> None:
    page = (b"<html><head><title>Atlas Motors recalls cars</title></head><body><nav>Menu</nav>"
            b"<article><h1>Atlas Motors recalls cars</h1><p>Atlas Motors said on Monday it "
            b"would recall forty thousand cars after finding a fault in the brakes, a setback "
            b"that analysts expect to cost the company dearly this year.</p></article></body>"
            b"</html>")
    server.routes["/story"] = Route(body=page, ctype="text/html; charset=utf-8")
    source = SourceConfig("p", server.url("/story"), kind=SourceKind.PAGE)
    [article] = poll_source(Fetcher(fast_fetch()), source).articles
    assert article.title == "Atlas Motors recalls cars"
    assert "forty thousand cars" in article.text and "Menu" not in article.text


def test_a_page_without_article_text_is_an_error_not_a_story(server) -> None:
    server.routes["/blank"] = Route(body=b"<html><body><nav>Home</nav></body></html>", ctype="text/html")
    source = SourceConfig("p", server.url("/blank"), kind=SourceKind.PAGE)
    with pytest.raises(FetchError, match=r"no article text found \(\d words, no paragraph of 8 or more but links\): "
                                         'for a front page of headlines set kind = "links"'):
        poll_source(Fetcher(fast_fetch()), source)
    # an audit's front page, its headlines read as the paragraphs of one story with three tickers
    links = "".join(f'<li><a href="/n/{i}">Orchard Semiconductor wins a large new supply contract, story {i}</a></li>'
                    for i in range(8))
    front = f"<html><head><title>Markets</title></head><body><h1>Markets</h1><ul>{links}</ul></body></html>"
    server.routes["/front"] = Route(body=front.encode(), ctype="text/html")
    with pytest.raises(FetchError, match='no article text found .* set kind = "links"'):
        poll_source(Fetcher(fast_fetch()), SourceConfig("p", server.url("/front"), kind=SourceKind.PAGE))
    # a page of price tables, a short line each, was stored and classified as a story
    rows = "".join(f"<p>{s}</p><p>{p}</p><p>-1.2%</p><p>Volume 2.3M</p>"
                   for s, p in [("AAPL", "182.31"), ("MSFT", "411.02"), ("ACME", "12.50")] * 5)
    prices = (f"<html><head><title>Market data: most active stocks</title></head><body>"
              f"<article><h1>Most active stocks</h1>{rows}</article></body></html>")
    server.routes["/prices"] = Route(body=prices.encode(), ctype="text/html")
    with pytest.raises(FetchError, match="no paragraph of 8 or more"):
        poll_source(Fetcher(fast_fetch()), SourceConfig("p", server.url("/prices"), kind=SourceKind.PAGE))


def test_a_cookie_banner_or_paywall_line_is_not_the_story(server) -> None:
    page = (b"<html><head><title>Northwind Bank explores a sale</title></head><body><article>"
            b"<p>We value your privacy. We and our 842 partners store and access information on a device.</p>"
            b"<p>Northwind Bank is exploring a sale of its card business, people familiar with the matter said, "
            b"after a year of losses in the unit.</p>"
            b"<p>This article is for subscribers only. Subscribe now to continue reading.</p></article></body></html>")
    server.routes["/story"] = Route(body=page, ctype="text/html")
    source = SourceConfig("p", server.url("/story"), kind=SourceKind.PAGE)
    [article] = poll_source(Fetcher(fast_fetch()), source).articles
    assert article.text.startswith("Northwind Bank is exploring a sale") and "privacy" not in article.text
    assert "subscribers" not in article.text


def test_a_feed_entry_without_title_or_link_is_not_dropped_unseen() -> None:
    feed = (b'<rss version="2.0"><channel><title>t</title>'
            b"<item><link>http://n.test/1</link><description>Acme recalls cars. More later.</description></item>"
            b"<item><title>Bank fined over rate rigging</title></item>"
            b"<item><description></description></item></channel></rss>")
    found = parse_feed(feed, "s").articles
    assert [(a.url, a.title) for a in found] == [("http://n.test/1", "Acme recalls cars"),
                                                 ("", "Bank fined over rate rigging")]  # ingest counts it


def test_a_front_page_links_to_its_own_sites_headlines() -> None:
    page = (b'<a href="https://www.n.test/a">Bank fined over rate rigging</a>'
            b'<a href="https://n.test/b?x=1">Oil prices fall for a third day</a>'
            b'<a href="https://other.test/c">Another site entirely, same words here</a>'
            b'<a href="mailto:desk@n.test">Write to the news desk today</a>'
            b'<a href="https://n.test/">Back to the front page now</a>')
    page += (b'<a href="https://markets.n.test/d">Gold climbs to a record high</a>'
             b'<base href="https://n.test/world/"><a href="e">Storm closes ports in the north')  # never closed
    found = parse_links(page, "https://n.test/", "s")
    assert [(a.url, a.title, a.text) for a in found] == [
        ("https://www.n.test/a", "Bank fined over rate rigging", ""),
        ("https://n.test/b?x=1", "Oil prices fall for a third day", ""),
        ("https://markets.n.test/d", "Gold climbs to a record high", ""),
        ("https://n.test/world/e", "Storm closes ports in the north", "")]
    with pytest.raises(FetchError, match=r"no headline links found \(1 links, none on n.test with 4 words or "
                                         r"more\): is the page drawn by JavaScript"):
        parse_links(b'<div id="app"></div><a href="/x">Home</a>', "https://n.test/", "s")


@pytest.mark.parametrize("meta, published", [
    ('property="article:published_time" content="2026-03-02T16:30:00-05:00"', "2026-03-02 21:30"),
    ('name="date" content="2026-03-02"', "2026-03-02 21:45"),  # today, no time: now
    ('name="date" content="2026-02-27"', "2026-02-27 00:00"),
])
def test_a_page_is_dated_to_the_minute_it_gives(meta, published) -> None:
    from datetime import UTC, datetime

    page = (f"<html><head><title>Atlas Motors recalls cars</title><meta {meta}></head><body>"
            "<article><p>Atlas Motors said on Monday it would recall forty thousand cars after "
            "finding a fault in the brakes, a setback analysts expect to cost it dearly.</p>"
            "</article></body></html>").encode()
    now = datetime(2026, 3, 2, 21, 45, tzinfo=UTC)
    [article] = parse_page(page, "http://n.test/story", "p", now=now)
    assert f"{article.published.astimezone(UTC):%Y-%m-%d %H:%M}" == published


def test_a_page_published_today_keeps_its_time() -> None:
    """htmldate takes no time past its max_date, the real today: a story of 10:28 today read
    midnight, and was dated when fetched."""
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC).replace(microsecond=0)
    then = max(now - timedelta(hours=1), now.replace(hour=0, minute=1, second=0))
    page = (f'<html><head><title>Atlas Motors recalls cars</title><meta property="article:published_time" '
            f'content="{then.isoformat()}"></head><body><article><p>Atlas Motors said on Monday it would '
            "recall forty thousand cars after finding a fault in the brakes, a setback analysts expect to "
            "cost it dearly.</p></article></body></html>").encode()
    [article] = parse_page(page, "http://n.test/story", "p", now=now)
    assert article.published == then and article.dated


def test_a_latin1_page_is_decoded_with_its_declared_charset(server) -> None:
    page = ("<html><head><title>Société Générale relève ses prévisions</title></head><body>"
            "<article><p>Société Générale a relevé lundi ses prévisions de résultats pour "
            "l'année, portée par une activité de banque de détail plus forte que prévu et "
            "des coûts maîtrisés, selon un communiqué publié à Paris.</p></article></body>"
            "</html>").encode("latin-1")
    server.routes["/fr"] = Route(body=page, ctype="text/html; charset=ISO-8859-1")
    source = SourceConfig("p", server.url("/fr"), kind=SourceKind.PAGE)
    [article] = poll_source(Fetcher(fast_fetch()), source).articles
    assert article.title == "Société Générale relève ses prévisions"
    assert "activité de banque de détail" in article.text


def test_windows_1252_declared_as_latin1_keeps_its_euro_and_quotes(server) -> None:
    """Browsers read ISO-8859-1 as Windows-1252, and servers count on it: "€300m" read "300m"."""
    text = "Shares in Deutsche Widget tumble after €300m writedown, “difficult” market"
    page = (f"<html><head><title>{text}</title></head><body><article><p>{text}. Deutsche Widget’s "
            "shares fell 12% in Frankfurt after the writedown, the company said.</p></article></body></html>")
    server.routes["/p"] = Route(body=page.encode("cp1252"), ctype="text/html; charset=iso-8859-1")
    [article] = poll_source(Fetcher(fast_fetch()), SourceConfig("p", server.url("/p"), kind=SourceKind.PAGE)).articles
    assert article.title == text and "Widget’s" in article.text
    doc = rss([("http://x/1", text, "")]).decode()
    server.routes["/f.xml"] = Route(body=doc.encode("cp1252"), ctype="application/rss+xml; charset=iso-8859-1")
    assert [a.title for a in poll_source(Fetcher(fast_fetch()), SourceConfig("f", server.url("/f.xml"))).articles] \
        == [text]


def test_a_page_declaring_its_charset_in_meta_alone_is_read_in_it(server) -> None:
    """No charset in the header: the detector had guessed, and stored "Bluefin FoodsÆ Ć5m"."""
    text = "Bluefin Foods’ €5m recall hits café suppliers"
    page = (f"<html><head><meta charset='iso-8859-1'><title>{text}</title></head><body><article><p>{text}. "
            "The company’s “full-year” outlook was cut after the recall, it said on Monday.</p></article>"
            "</body></html>")
    server.routes["/m"] = Route(body=page.encode("cp1252"), ctype="text/html")
    [article] = poll_source(Fetcher(fast_fetch()), SourceConfig("m", server.url("/m"), kind=SourceKind.PAGE)).articles
    assert article.title == text and "company’s “full-year”" in article.text


def test_a_feed_is_read_in_the_charset_its_server_declares(server) -> None:
    # no encoding in the XML declaration: only the header says KOI8-R
    doc = rss([("http://x/ru", "Сбербанк повысил прогноз прибыли", "")]).decode()
    server.routes["/ru.xml"] = Route(body=doc.encode("koi8-r"),
                                     ctype="application/rss+xml; charset=koi8-r")
    source = SourceConfig("ru", server.url("/ru.xml"))
    [article] = poll_source(Fetcher(fast_fetch()), source).articles
    assert article.title == "Сбербанк повысил прогноз прибыли"


def test_a_json_feed_is_read_and_its_links_against_the_feed_address(server) -> None:
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "wire", "items": [
        {"id": "1", "url": "/news/1", "title": "Atlas Motors recalls cars", "content_text": "A recall.",
         "date_published": "2026-03-02T09:30:00+01:00"},
        {"id": "2", "url": "https://other.test/2", "content_html": "<p>Helios Energy cuts its outlook. More.</p>"},
        {"id": "3", "title": "no link"}]}
    server.routes["/f.json"] = Route(body=json.dumps(feed).encode(), ctype="application/feed+json")
    first, second, third = poll_source(Fetcher(fast_fetch()), SourceConfig("j", server.url("/f.json"))).articles
    assert (third.url, third.title) == ("", "no link")  # ingest skips and counts it
    assert first.url == server.url("/news/1") and first.text == "A recall."
    assert first.published == datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
    assert (second.url, second.title) == ("https://other.test/2", "Helios Energy cuts its outlook")
    with pytest.raises(FetchError, match="not a JSON Feed"):
        parse_feed(b'{"feed": []}', "j", content_type="application/json")


@pytest.mark.parametrize(("stamp", "published"), [
    ("Tue, 03 Mar 2026 10:00:00", "2026-03-03 10:00"),  # no zone: UTC (feedparser gave no date)
    ("Tue, 03 Mar 2026 10:00:00 CET", "2026-03-03 09:00"),  # read as UTC, an hour late
    ("Tue, 03 Mar 2026 10:00:00 BST", "2026-03-03 09:00"),
    ("Tue, 03 Mar 2026 10:00:00 EST", "2026-03-03 15:00"),
    ("2026-03-03T10:00:00", "2026-03-03 10:00"),
    ("2026-03-03T10:00:00+02:00", "2026-03-03 08:00"),
    ("Tue, 03 Mar 2026 10:00:00 -05:00", "2026-03-03 15:00"),  # offsets as Java and others write them
    ("Tue, 03 Mar 2026 10:00:00 GMT+0100", "2026-03-03 09:00"),
    ("Tue, 03 Mar 2026 10:00:00 +01", "2026-03-03 09:00"),
])
def test_a_feed_entry_is_dated_as_its_feed_writes_it(stamp, published) -> None:
    doc = (f'<rss version="2.0"><channel><title>t</title><item><title>Acme recalls cars</title>'
           f"<link>http://x/1</link><pubDate>{stamp}</pubDate></item></channel></rss>").encode()
    [article] = parse_feed(doc, "s", now=datetime(2026, 12, 5, tzinfo=UTC)).articles
    assert (f"{article.published:%Y-%m-%d %H:%M}", article.dated) == (published, True)
    item = {"url": "http://x/1", "title": "Acme recalls cars", "date_published": stamp}
    [article] = parse_feed(json.dumps({"items": [item]}).encode(), "j", now=datetime(2026, 12, 5, tzinfo=UTC)).articles
    assert (f"{article.published:%Y-%m-%d %H:%M}", article.dated) == (published, True)


def test_an_entry_with_no_readable_date_is_dated_when_fetched_and_says_so() -> None:
    now = datetime(2026, 12, 5, 18, tzinfo=UTC)
    doc = (b'<rss version="2.0"><channel><title>t</title>'
           b"<item><title>a</title><link>http://x/1</link><pubDate>Tuesday, March 3, 2026 - 11:00</pubDate></item>"
           b"<item><title>b</title><link>http://x/2</link></item></channel></rss>")
    assert [(a.published, a.dated) for a in parse_feed(doc, "s", now=now).articles] == [(now, False)] * 2


def test_plain_text_is_not_stripped_as_html_and_a_missing_title_keeps_its_abbreviations() -> None:
    doc = (b'<rss version="2.0"><channel><title>t</title>'
           b"<item><title>S&amp;P 500 falls as AT&amp;T &lt;T&gt; slides</title><link>http://x/1</link></item>"
           b"<item><title>Acme &lt;b&gt;sinks&lt;/b&gt; on &lt;a href='/q'&gt;&lt;AAPL.O&gt;&lt;/a&gt; news&lt;br/&gt;"
           b"</title><link>http://x/4</link></item>"
           b"<item><link>http://x/2</link><description>U.S. stocks fell sharply on Tuesday. More.</description>"
           b"</item></channel></rss>")
    titles = [a.title for a in parse_feed(doc, "s").articles]
    assert titles == ["S&P 500 falls as AT&T <T> slides",  # markup a feed escaped
                      "Acme sinks on <AAPL.O> news",  # goes, tickers stay
                      "U.S. stocks fell sharply on Tuesday"]
    atom = (b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><title>Initech probe</title>'
            b'<link href="http://x/3"/><id>3</id><summary type="text">The SEC looks &lt;into&gt; its accounts.'
            b"</summary><updated>2026-03-03T10:00:00Z</updated></entry></feed>")
    assert [a.text for a in parse_feed(atom, "s").articles] == ["The SEC looks <into> its accounts."]


def test_entries_without_link_go_on_to_be_counted_and_html_is_stripped() -> None:
    doc = rss([("", "no link", ""), ("http://x/2", "<b>Bold</b> &amp; plain", "")])
    read = parse_feed(doc, "s").articles
    assert [(a.url, a.title) for a in read] == [("", "no link"), ("http://x/2", "Bold & plain")]
    assert strip_html("<script>alert(1)</script>ok") == "alert(1) ok"
