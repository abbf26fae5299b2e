"""Turning fetched bytes into articles: RSS/Atom with feedparser, JSON Feed with json, HTML pages
with trafilatura, a section front page's headline links with html.parser. An entry's link is
read against the feed's own address ("/news/1"); its date is read in ``dates``."""

from __future__ import annotations

import codecs
import html
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit
from xml.sax import SAXParseException

import feedparser
import trafilatura
from trafilatura.settings import set_date_params
from trafilatura.utils import decode_file

from .classify import split_sentences
from .config import SourceConfig, SourceKind
from .dates import entry_time, feed_time, page_time
from .errors import FetchError
from .fetch import FEED_TYPES, HTML_TYPES, Fetcher, FetchResult

MAX_TEXT_CHARS = 20_000
# a paywall's or a cookie banner's line that trafilatura keeps as the story's ("We value your privacy. We and our
# 842 partners ..."); a story's own line may name subscribers or cookies, so only these phrases count
_BOILERPLATE = re.compile(r"\b(?:for subscribers only|subscribe (?:now|today) to|already a subscriber|sign in to "
                          r"(?:continue|read)|we value your privacy|we and our \d+ partners|we use cookies|"
                          r"accept all cookies|cookie settings)\b", re.I)
# the C1 controls no text holds, as the Windows-1252 characters their bytes are ("\x80" -> "€")
_C1_AS_CP1252 = {code: bytes([code]).decode("cp1252", "ignore") or None for code in range(0x80, 0xA0)}
MIN_PAGE_WORDS = 8  # a page whose main text has no paragraph this long holds no article
HEADLINE_WORDS = 4  # a front page's link with fewer words is navigation ("Markets", "Read more")


def article_body(title: str, text: str) -> str:
    """Title plus text: the one string that is hashed, deduplicated, classified and used for
    domain adaptation. A text that already starts with its title does not repeat it.

    >>> article_body("Bank fined", "Regulator acts."), article_body("Bank fined", "Bank fined 5m")
    ('Bank fined. Regulator acts.', 'Bank fined 5m')
    >>> article_body("Bank fined", "")
    'Bank fined'
    """
    if text and not text.startswith(title):
        return f"{title}. {text}"
    return text or title


@dataclass(frozen=True)
class RawArticle:
    """An article as a source gave it, before dedupe and classification."""

    url: str
    title: str
    text: str
    published: datetime
    source: str
    dated: bool = True  # False: the source gave no date read here, so ``published`` is when it was fetched

    @property
    def body(self) -> str:
        """See :func:`article_body`."""
        return article_body(self.title, self.text)


_BROKEN_OFF = ("no element found", "unclosed token", "unclosed CDATA section")  # expat's, at a document cut short


@dataclass(frozen=True)
class FeedRead:
    """A feed's articles, and what was wrong with the document they were read from all the same
    (``problem``; "" for nothing)."""

    articles: list[RawArticle]
    problem: str = ""


@dataclass(frozen=True)
class SourcePage:
    """What one poll of a source returned (``problem``: see :class:`FeedRead`)."""

    articles: list[RawArticle]
    result: FetchResult
    problem: str = ""


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def strip_html(fragment: str) -> str:
    """Plain text of an HTML fragment, whitespace collapsed.

    >>> strip_html("<p>Profit <b>up</b> 5%&nbsp;</p><script>x</script>")
    'Profit up 5% x'
    """
    parser = _TextOnly()
    parser.feed(fragment)
    parser.close()
    return re.sub(r"\s+", " ", html.unescape(" ".join(parser.parts))).strip()


# an "&" that starts no entity, outside CDATA: invalid XML that real feeds write ("AT&T shares
# slide"); feedparser's loose parser read "&T" as an entity and stored "AT&T; shares slide"
_BARE_AMPERSAND = re.compile(rb"(<!\[CDATA\[.*?\]\]>)|&(?![A-Za-z][A-Za-z0-9]*;|#[0-9]+;|#[xX][0-9A-Fa-f]+;)", re.S)


def _escaped(match: re.Match[bytes]) -> bytes:
    return match[1] or b"&amp;"


def parse_feed(content: bytes, source: str, now: datetime | None = None,
               charset: str | None = None, content_type: str = "", base_url: str = "") -> FeedRead:
    """Articles of an RSS/Atom document or a JSON Feed, read in the ``charset`` the server
    declared (else the document's own declaration, else feedparser's guess), links resolved
    against ``base_url`` (the feed's address). feedparser recovers what it can from sloppy XML;
    a malformed document that yields no usable entry is a ``FetchError``, and one that breaks off
    after some is read up to there, its ``problem`` said (a feed cut short by a proxy had been read
    as whole).

    subtle: a relative link ("/news/1") was stored as it stood, and another site's story with
    the same path was taken for the same article and dropped."""
    now = now or datetime.now(UTC)
    if "json" in content_type or content.lstrip()[:1] == b"{":
        return FeedRead(parse_json_feed(content, source, now, base_url))
    # subtle: only a declared charset is passed on; a bare text/xml header would make
    # feedparser assume US-ASCII (RFC 3023)
    ctype = content_type or "application/xml"
    if charset and _codec(charset) in ("iso8859-1", "ascii"):  # as decode_html: what such servers mean
        charset = "windows-1252"
    headers = {"content-type": f"{ctype}; charset={charset}"} if charset else None
    # bytes read as ASCII's: a UTF-16 or UTF-32 feed (NUL bytes) is left as it is
    feed = feedparser.parse(content if b"\x00" in content[:512] else _BARE_AMPERSAND.sub(_escaped, content),
                            response_headers=headers)
    articles = []
    for entry in feed.entries:
        # subtle: only a link is read against the feed's address; a guid that is no address
        # ("a1b2-3") became a made-up link under the feed's folder (as it is, ingest counts it bad)
        url = _absolute(entry.get("link") or "", base_url) or entry.get("id") or ""
        text = _entry_text(entry, "summary")[:MAX_TEXT_CHARS]
        # subtle: an entry without a title is titled by its summary's first sentence, and one
        # without a link goes on to ingest, which skips and counts it (bad_links): both were
        # dropped here without a word
        title = _entry_text(entry, "title") or first_sentence(text)
        if not title:
            continue  # nothing to read: no title, no summary
        when = entry_time(entry)
        articles.append(RawArticle(url=url, title=title, text=text, published=when or now, source=source,
                                   dated=when is not None))
    if articles:  # not a charset read another way, nor an "&nbsp;" (feedparser's bozo too): the XML broke off
        error = feed.get("bozo_exception")
        broken = isinstance(error, SAXParseException) and error.getMessage() in _BROKEN_OFF
        return FeedRead(articles, f"the feed breaks off ({error}): read up to there" if broken else "")
    # subtle: feedparser reads an HTML page served as XML without complaint (no bozo): the
    # source was "ok" with no articles, poll after poll; sloppier HTML reads as malformed XML
    if re.match(rb"\s*(?:<\?xml[^>]*>\s*)?(?:<!doctype html|<html)", content[:512], re.I):
        raise FetchError(source, 'not an RSS/Atom feed; it is an HTML page: set kind = "page" (one article) '
                                 'or "links" (a front page of headlines) for this source')
    if feed.bozo:
        reason = getattr(feed, "bozo_exception", "unknown problem")
        raise FetchError(source, f"malformed feed ({type(reason).__name__}: {reason})")
    if not feed.get("version"):
        raise FetchError(source, "not an RSS/Atom feed (no <rss>, <feed> or RDF root)")
    return FeedRead(articles)


def _codec(charset: str) -> str | None:
    """Python's name for a charset ("ISO-8859-1" -> "iso8859-1"); None for one it does not know."""
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return None


def _entry_text(entry: dict, field: str) -> str:
    """An entry's title or summary as plain text. subtle: feedparser has already unescaped one
    marked as plain text; stripped as HTML, "AT&amp;T &lt;T&gt; slides" lost its ticker. Only
    the common tags, in lower case, go from such text ("Acme &lt;b&gt;sinks&lt;/b&gt;")."""
    value = entry.get(field) or ""
    if (entry.get(f"{field}_detail") or {}).get("type") == "text/plain":
        value = _ESCAPED_TAG.sub(lambda tag: " " if tag[1] in ("p", "br", "div") else "", value)
        return re.sub(r"\s+", " ", value).strip()
    return strip_html(value)


# subtle: tickers are written in upper case ("<T>", "<AAPL.O>"), markup that a feed escaped by
# mistake in lower case: only the latter goes
_ESCAPED_TAG = re.compile(r"</?(a|b|br|div|em|font|i|p|span|strong|sub|sup|u)(?:\s[^<>]*)?/?>")


def first_sentence(text: str) -> str:
    """A title for an entry that has none: its summary's first sentence, without the full stop.

    >>> first_sentence("U.S. stocks fell sharply. More later.")
    'U.S. stocks fell sharply'
    """
    return (split_sentences(text, limit=1) or [""])[0].removesuffix(".")[:200]


def _absolute(link: str, base_url: str) -> str:
    """``link`` read against the feed's address; "" stays "" (no link), and a link no URL parser
    accepts stays as it is (ingest skips and counts it)."""
    try:
        return urljoin(base_url, link) if link else ""
    except ValueError:
        return link


def parse_json_feed(content: bytes, source: str, now: datetime, base_url: str = "") -> list[RawArticle]:
    """Articles of a JSON Feed (jsonfeed.org 1.0 / 1.1: ``items`` with ``url``, ``title``,
    ``content_text`` or ``content_html``, ``date_published``)."""
    try:
        feed = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FetchError(source, f"malformed JSON Feed ({exc})") from exc
    items = feed.get("items") if isinstance(feed, dict) else None
    if not isinstance(items, list):
        raise FetchError(source, "not a JSON Feed (no \"items\" list)")
    articles = []
    for item in (i for i in items if isinstance(i, dict)):
        url = _absolute(str(item.get("url") or item.get("external_url") or ""), base_url)
        text = str(item.get("content_text") or strip_html(str(item.get("content_html") or item.get("summary") or "")))
        title = strip_html(str(item.get("title") or "")) or first_sentence(text)
        stamp = str(item.get("date_published") or item.get("date_modified") or "")
        # a bare date is that day's midnight, or now on the day itself (as a page's: page_time)
        when = page_time(stamp, now) if re.fullmatch(r"\d{4}-\d\d-\d\d", stamp.strip()) else feed_time(stamp)
        if title:  # one without a link goes on to ingest, which skips and counts it (as a feed's)
            articles.append(RawArticle(url=url, title=title, text=text[:MAX_TEXT_CHARS], source=source,
                                       published=when or now, dated=when is not None))
    return articles


# a page's own declaration, read as browsers do from its first 1,024 bytes: <meta charset="...">
# or <meta http-equiv="Content-Type" content="text/html; charset=...">
_META_CHARSET = re.compile(rb"<meta\b[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9._:-]+)", re.IGNORECASE)


def decode_html(content: bytes, charset: str | None = None) -> str:
    """A page as text: in the charset the server declared, else the one the page declares in a
    ``<meta>`` tag, else UTF-8 or, failing that, what trafilatura's detector guesses.

    >>> decode_html("Société".encode("latin-1"), "iso-8859-1")
    'Société'
    >>> decode_html("a €300m “loss”".encode("cp1252"), "iso-8859-1")  # its C1 controls were dropped
    'a €300m “loss”'
    >>> decode_html("Société\u0092s €300m".encode(), "utf-8")  # one stray control, the rest as written
    'Société’s €300m'
    >>> decode_html("<meta charset='iso-8859-1'><p>Foods’ €5m recall hits café".encode("cp1252"))[-27:]
    'Foods’ €5m recall hits café'
    """
    text = None
    # subtle: a Windows-1252 page declaring its charset in <meta> alone was guessed, and stored as
    # "Bluefin FoodsÆ Ć5m recall hits cafķ suppliers"
    if not charset and (declared := _META_CHARSET.search(content[:1024])):
        charset = declared.group(1).decode("ascii")
    if charset:
        try:
            text = content.decode(charset, errors="replace")
        except LookupError:
            pass  # a charset name Python does not know: guess instead
    # subtle: Latin-1 declared (or guessed) and Windows-1252 written, as browsers assume, left C1
    # controls where "€" and "’" were; mapped one by one, a UTF-8 page's stray one is mended too
    return (decode_file(content) if text is None else text).translate(_C1_AS_CP1252)


def parse_page(content: bytes, url: str, source: str, now: datetime | None = None,
               charset: str | None = None) -> list[RawArticle]:
    """The main text of one HTML article page (trafilatura); a ``FetchError`` when it has none
    (no paragraph of ``MIN_PAGE_WORDS`` words that is not a link's text: a page of nothing but
    "Home" was stored as a story).
    """
    now = now or datetime.now(UTC)
    page = decode_html(content, charset)
    text = "\n".join(line for line in (trafilatura.extract(page, include_comments=False, include_tables=False)
                                       or "").splitlines() if not _BOILERPLATE.search(line))
    # the time too, where the page gives one. subtle: htmldate takes no time past its max_date,
    # today by default, so today's "10:28" read midnight, and the story was dated when fetched;
    # a date ahead of the fetch is clamped when stored (ingest.CLOCK_SKEW)
    meta = trafilatura.extract_metadata(page, date_config=set_date_params(True) | {
        "outputformat": "%Y-%m-%dT%H:%M:%S%z", "max_date": f"{now + timedelta(days=1):%Y-%m-%d}"})
    title = (meta.title if meta and meta.title else "") or text.split("\n", 1)[0][:200]
    # subtle: a page of price tables, line by short line, had been stored (and classified) as a story;
    # so had a front page, its headline links read as the paragraphs of one story with three tickers
    parser = _Links()
    parser.feed(page)
    parser.close()
    linked = {" ".join(words.split()) for _, words in parser.links}
    own = [line for line in text.splitlines() if " ".join(line.split()) not in linked]
    if max((len(line.split()) for line in own), default=0) < MIN_PAGE_WORDS or not title:
        raise FetchError(url, f"no article text found ({len(text.split())} words, no paragraph of {MIN_PAGE_WORDS} "
                         'or more but links): for a front page of headlines set kind = "links" for this source')
    date = meta.date if meta else None
    return [RawArticle(url=url, title=title.strip(), text=text.strip()[:MAX_TEXT_CHARS],
                       published=page_time(date, now), source=source, dated=bool(date))]


class _Links(HTMLParser):
    """``(href, text)`` of every ``<a>`` of a page, outside scripts and styles, and the page's
    ``<base href>`` if it has one."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []
        self.base = ""
        self._open: tuple[str, list[str]] | None = None
        self._skipping = 0

    def close(self) -> None:
        super().close()
        self._close()  # a last <a> never closed

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skipping += 1
        elif tag == "base" and not self.base:
            self.base = dict(attrs).get("href") or ""
        elif tag == "a":
            self._close()
            self._open = (dict(attrs).get("href") or "", [])

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skipping = max(0, self._skipping - 1)
        elif tag == "a":
            self._close()

    def handle_data(self, data: str) -> None:
        if self._open is not None and not self._skipping:
            self._open[1].append(data)

    def _close(self) -> None:
        if self._open is not None:
            href, parts = self._open
            self.links.append((href, re.sub(r"\s+", " ", " ".join(parts)).strip()))
            self._open = None


def parse_links(content: bytes, url: str, source: str, now: datetime | None = None,
                charset: str | None = None) -> list[RawArticle]:
    """The headlines a section front page links to, each an article: its link on the page's own
    site (its host without ``www.``, or a subdomain of it: ``markets.news.example``), its text
    the headline (at least ``HEADLINE_WORDS`` words: shorter links are navigation), first seen
    ``now``. The text is the headline alone; the classifier reads headlines. A page with no
    such link is a ``FetchError`` (a page drawn by JavaScript has none to read).

    >>> page = b'<a href="/markets">Markets</a><a href="/n/1#top">Bank fined over rate rigging</a>'
    >>> [(a.url, a.title) for a in parse_links(page, "https://news.example/", "s")]
    [('https://news.example/n/1', 'Bank fined over rate rigging')]
    """
    now, parser = now or datetime.now(UTC), _Links()
    parser.feed(decode_html(content, charset))
    parser.close()
    base, site, seen, articles = _absolute(parser.base, url) or url, _site(url), {urldefrag(url).url}, []
    for href, title in parser.links:
        link = urldefrag(_absolute(href, base)).url
        host = _site(link)
        if len(title.split()) < HEADLINE_WORDS or not (host == site or host.endswith("." + site)) or link in seen:
            continue
        seen.add(link)
        articles.append(RawArticle(url=link, title=title[:300], text="", published=now, source=source, dated=False))
    if not articles:
        raise FetchError(url, f"no headline links found ({len(parser.links)} links, none on {site} with "
                         f"{HEADLINE_WORDS} words or more): is the page drawn by JavaScript? Use its feed if it "
                         "has one")
    return articles


def _site(url: str) -> str:
    """``https://www.news.example/x`` -> ``news.example``; "" for a link that is no web address."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    host = (parts.hostname or "") if parts.scheme in ("http", "https") else ""
    return host.removeprefix("www.")


def poll_source(fetcher: Fetcher, source: SourceConfig, etag: str | None = None,
                last_modified: str | None = None) -> SourcePage:
    """Fetch one source (conditionally) and parse what came back."""
    accept = FEED_TYPES if source.kind == SourceKind.FEED else HTML_TYPES
    result = fetcher.fetch(source.url, accept, etag=etag, last_modified=last_modified)
    if result.not_modified:
        return SourcePage(articles=[], result=result)
    if source.kind == SourceKind.FEED:
        try:
            read = parse_feed(result.content, source.name, charset=result.charset,
                              content_type=result.content_type, base_url=result.url)
        except FetchError as exc:
            raise FetchError(source.url, exc.problem) from exc
        return SourcePage(articles=read.articles, result=result, problem=read.problem)
    parse = parse_links if source.kind == SourceKind.LINKS else parse_page
    return SourcePage(articles=parse(result.content, result.url, source.name, charset=result.charset), result=result)
