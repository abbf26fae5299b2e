"""Deduplication: canonical URLs, content hashes and MinHash near-duplicates.

The same story reaches us three ways: the same URL with tracking junk, the same text under two
URLs, and the same story reworded by two outlets. Each has its own test here. A rewording that
changes most of the words is found by sentence embeddings after classification
(``rewordings``); ``same_event`` vets the pairs they find.
Stories are compared by their ``tokens``.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np

from .tokens import NEGATIONS, OPENERS, THOUSANDS, key_tokens, stem, words

TRACKING = re.compile(r"^(utm_.*|fbclid|gclid|mc_cid|mc_eid|ref|ref_src|cmpid|ocid)$", re.I)
NUM_PERM = 64
_PRIME = np.uint64((1 << 31) - 1)
_rng = np.random.default_rng(20260302)
_A = _rng.integers(1, (1 << 31) - 1, NUM_PERM, dtype=np.uint64)
_B = _rng.integers(0, (1 << 31) - 1, NUM_PERM, dtype=np.uint64)


def canonical_url(url: str) -> str:
    """A URL with case, default ports, fragments, tracking parameters and order normalised.

    >>> canonical_url("HTTPS://News.Example.com:443/a/?utm_source=x&b=2&a=1#top")
    'https://news.example.com/a?a=1&b=2'
    """
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host:  # "javascript:...", "urn:2", "/news/1"
        raise ValueError("not a web address")
    port = parts.port
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                   if not TRACKING.match(k))
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((scheme, host, path if path != "/" or query else "/", urlencode(query), ""))


def url_variants(url: str) -> list[str]:
    """A canonical URL and the same address under the other scheme, with or without "www.":
    one page, however a feed links it (two feeds' links to one story were stored as two).

    >>> url_variants("https://www.n.test/a")
    ['https://www.n.test/a', 'http://www.n.test/a', 'https://n.test/a', 'http://n.test/a']
    """
    scheme, rest = url.split("://", 1)
    bare = rest.removeprefix("www.")
    hosts = [rest, bare] if rest != bare else [rest, f"www.{rest}"]
    schemes = [scheme, "http" if scheme == "https" else "https"]
    return [f"{s}://{h}" for h in hosts for s in schemes]


# Words whose swap turns a story into a different one ("add" / "cut" 700 jobs, "first" / "second"
# quarter), stemmed like key_tokens; numbers and cashtags are checked by their form.
FACT_WORDS = frozenset(stem(w) for w in (
    "add cut rise fall gain lose loss beat miss win up down raise lower hire shed grow shrink increase "
    "decrease jump drop climb slide slump surge plunge soar sink tumble rally high low higher record "
    "approve reject accept deny buy sell open close expand reduce boost strong weak profit upgrade "
    "downgrade above below first second third fourth fifth last half quarter q1 q2 q3 q4 h1 h2").split())


def same_facts(a: list[str], b: list[str]) -> bool:
    """Whether two stories' key tokens can tell the same fact.

    Every key word of the shorter story must appear in the longer one, both must negate the
    same of its words, and the longer may only add words. subtle: shingle overlap alone merges
    "Bluefin to add 700 jobs" with "Bluefin to cut 700 jobs" (one word in seven differs), so a
    differing word is tolerated only in long texts (one in ten) and never when it is a number,
    cashtag or a word from ``FACT_WORDS``.

    >>> same_facts(key_tokens("Bluefin to add 700 jobs"), key_tokens("Bluefin to cut 700 jobs"))
    False
    >>> same_facts(key_tokens("Vesta cuts jobs"), key_tokens("Report: Vesta to cut jobs, sources say"))
    True
    >>> same_facts(key_tokens("Vesta cuts jobs"), key_tokens("Vesta will not cut jobs"))
    False

    subtle: a negation in words the longer story adds is no disagreement: a wire copy with the
    body "The company did not comment further." was kept apart from its headline-only twin, so
    7 of 20 reworded demo stories counted twice in trends and alerts.
    """
    (short_keys, short), (long_keys, long) = sorted(((a, set(a)), (b, set(b))), key=lambda p: len(p[1]))
    if _negated(short_keys) != _negated(long_keys) & short:
        return False
    missing = short - long
    if len(missing) > len(short) // 10:
        return False
    return not any(w in FACT_WORDS or not w[0].isalpha() for w in missing)


def _negated(keys: list[str]) -> set[str]:
    """The key words a negation stands before: ``["vesta", "not", "cut"] -> {"cut"}``."""
    return {keys[i + 1] for i in range(len(keys) - 1) if keys[i] in NEGATIONS}


def content_hash(text: str) -> str:
    """Hash of the normalised words, so spacing, case and punctuation do not matter."""
    return hashlib.sha256(" ".join(words(text)).encode("utf-8")).hexdigest()[:32]


def shingles(text: str, n: int = 2) -> set[str]:
    """Key-token n-grams (a one-word text is its own shingle), so filler and inflection do not count.

    >>> sorted(shingles("Vesta cuts jobs"))
    ['cut job', 'vesta cut']
    """
    return _grams(key_tokens(text), n)


def _grams(tokens: list[str], n: int = 2) -> set[str]:
    if len(tokens) < n:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    """|a & b| / |a | b| (0 for two empty sets)."""
    return len(a & b) / len(a | b) if a or b else 0.0


def minhash(text: str) -> np.ndarray:
    """A ``NUM_PERM``-long MinHash signature (uint32) of the text's shingles.

    The fraction of equal positions in two signatures estimates their shingles' Jaccard.
    """
    return _signature(shingles(text))


def _signature(grams: set[str]) -> np.ndarray:
    if not grams:
        return np.full(NUM_PERM, np.iinfo(np.uint32).max, dtype=np.uint32)
    base = np.array([int.from_bytes(hashlib.blake2b(g.encode(), digest_size=4).digest(), "big")
                     for g in grams], dtype=np.uint64) % _PRIME
    hashed = (base[:, None] * _A[None, :] + _B[None, :]) % _PRIME  # < 2**62: no overflow
    return hashed.min(axis=0).astype(np.uint32)


def entities(text: str) -> set[str]:
    """Cashtags, numbers and capitalised words, lower-cased (a crude named-entity set).

    Other sentence openers ("Shares") land here too; containment tolerates a few extras.

    >>> sorted(entities("Report: shares of Northwind Bank fall 5% as $NWB slides. The end"))
    ['$nwb', '5%', 'bank', 'northwind']
    """
    tokens = re.findall(r"\$?\w[\w.]*%?", THOUSANDS.sub("", text))
    found = {t.lower().rstrip(".") for t in tokens
             if t.startswith("$") or t[0].isdigit() or t[0].isupper()}
    return found - OPENERS


def containment(a: set[str], b: set[str]) -> float:
    """|a & b| / min(|a|, |b|): 1.0 when one story's shingles all appear in the other.

    Jaccard punishes a reworded headline for every word an outlet adds ("Report: ...,
    sources say"); containment does not, while two different companies in the same phrasing
    still differ on the shingles around the name.
    """
    if not a and not b:
        return 1.0
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0



class NearDuplicateIndex:
    """Recent stories in memory; ``match`` finds one already seen, reworded.

    MinHash finds candidates cheaply (estimated Jaccard >= ``candidate_floor``); exact shingle
    containment >= ``threshold``, (nearly) the same named entities (companies, cashtags, numbers)
    and ``same_facts`` confirm them: "Atlas Motors cuts outlook" is not a rewording of "Helios
    Energy cuts outlook", nor "Atlas Motors to add 700 jobs" of "Atlas Motors to cut 700 jobs".

    >>> index = NearDuplicateIndex()
    >>> index.add(1, "Northwind Bank faces probe over loan losses")
    >>> index.match("Report: Northwind Bank faces probe over loan losses, sources say")
    1
    >>> index.match("Atlas Motors faces probe over loan losses") is None
    True
    """

    def __init__(self, threshold: float = 0.7, candidate_floor: float = 0.25,
                 entity_threshold: float = 0.8, max_size: int = 5000) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        if max_size < 1:
            raise ValueError(f"max_size must be at least 1, got {max_size}")
        self.threshold, self.candidate_floor = threshold, candidate_floor
        self.entity_threshold, self.max_size = entity_threshold, max_size
        self.ids: list[int] = []
        self._grams: list[set[str]] = []
        self._entities: list[set[str]] = []
        self._keys: list[list[str]] = []
        self._sigs = np.empty((64, NUM_PERM), dtype=np.uint32)  # rows beyond len() unused

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, article_id: int, text: str) -> None:
        """Remember a story; past ``max_size`` the oldest quarter is forgotten."""
        if len(self.ids) >= self.max_size:
            drop = max(1, self.max_size // 4)
            del self.ids[:drop], self._grams[:drop], self._entities[:drop], self._keys[:drop]
            self._sigs[:len(self.ids)] = self._sigs[drop:drop + len(self.ids)].copy()
        if len(self.ids) == len(self._sigs):  # amortised growth, not a copy per story
            self._sigs = np.vstack([self._sigs, np.empty_like(self._sigs)])
        keys = key_tokens(text)  # once: shingles and signature are built from them
        grams = _grams(keys)
        self._sigs[len(self.ids)] = _signature(grams)
        self.ids.append(article_id)
        self._grams.append(grams)
        self._entities.append(entities(text))
        self._keys.append(keys)

    def match(self, text: str) -> int | None:
        """The id of the stored story ``text`` repeats, else None."""
        keys = key_tokens(text)
        grams, names = _grams(keys), entities(text)
        if not self.ids or not grams:  # a text of filler words alone tells no story to match
            return None
        estimate = (self._sigs[:len(self.ids)] == _signature(grams)[None, :]).mean(axis=1)
        best_id, best = None, self.threshold
        for i in np.flatnonzero(estimate >= self.candidate_floor):
            score = containment(grams, self._grams[i])
            if (score >= best and containment(names, self._entities[i]) >= self.entity_threshold
                    and same_facts(keys, self._keys[i])):
                best_id, best = self.ids[i], score
        return best_id


def near_duplicates(first: str, second: str) -> bool:
    """Whether ``second`` repeats ``first`` as :class:`NearDuplicateIndex` judges it."""
    index = NearDuplicateIndex()
    index.add(0, first)
    return index.match(second) == 0
