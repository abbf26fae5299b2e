"""Deduplication: canonical URLs, content hashes, MinHash near-duplicates, and ``same_event``.

The same story reaches us three ways: the same URL with tracking junk, the same text under two
URLs, and the same story reworded by two outlets. Each has its own test here. A rewording that
changes most of the words is found by sentence embeddings after classification
(``rewordings``); ``same_event`` vets the pairs they find.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np

# Capitalised only because they open a sentence or a wire-style prefix: not entities.
OPENERS = frozenset("the a an this that these in on at as for and but it its report update "
                    "breaking exclusive analysis opinion".split())
# Words that carry no fact of their own: function words and the wire's reporting frame
# ("Report: ... to cut ... following a slump, sources say"). Rewordings differ in these freely.
FILLER = frozenset("a an the to of in on at for by with from into as and or but its it is are was were be "
                   "been has have had will would after following amid over report reports reported say says "
                   "said source sources according update breaking exclusive analysis opinion".split())
NEGATIONS = frozenset("not no never without nor cannot t".split())  # "t": won't -> won, t
THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")  # 2,000 -> 2000
# Past forms that suffix stripping cannot reach ("fell" / "falls"): mapped to the base first.
IRREGULAR = {past: base for base, forms in {
    "fall": "fell fallen", "rise": "rose risen", "sink": "sank sunk", "grow": "grew grown",
    "win": "won", "lose": "lost", "sell": "sold", "buy": "bought", "pay": "paid", "slide": "slid",
    "shrink": "shrank shrunk", "strike": "struck", "lead": "led", "take": "took taken",
    "swing": "swung", "spend": "spent", "hold": "held", "make": "made", "run": "ran",
    "begin": "began begun", "break": "broke broken", "freeze": "froze frozen", "tell": "told",
    "give": "gave given", "see": "saw seen", "beat": "beaten", "go": "went gone", "get": "got",
    "drive": "drove driven", "bring": "brought", "seek": "sought",
    "fight": "fought", "keep": "kept", "meet": "met", "send": "sent", "lend": "lent",
}.items() for past in forms.split()}
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


def words(text: str) -> list[str]:
    """Lower-case word tokens (letters, digits, $ and %).

    >>> words("$NWB falls 5%, sources say")
    ['$nwb', 'falls', '5%', 'sources', 'say']
    """
    return re.findall(r"[$\w%]+", text.lower())


def stem(word: str) -> str:
    """Crude suffix stripping, so inflections of one word compare equal (numbers kept as they are).

    >>> [stem(w) for w in ("cuts", "cutting", "cut", "rises", "rose", "slumped", "fell", "5%")]
    ['cut', 'cut', 'cut', 'ris', 'ris', 'slump', 'fall', '5%']
    """
    if not word[0].isalpha():
        return word
    word = IRREGULAR.get(word, word)
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[:-len(suffix)]
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
                word = word[:-1]  # cutting -> cutt -> cut
            break
    return word.rstrip("e") if len(word) > 3 else word


def key_tokens(text: str) -> list[str]:
    """The stemmed words that can carry a fact: filler dropped, thousands separators removed.

    >>> key_tokens("Report: Vesta to cut 2,000 jobs following a subscriber slump, sources say")
    ['vesta', 'cut', '2000', 'job', 'subscriber', 'slump']
    """
    return [stem(w) for w in words(THOUSANDS.sub("", text)) if w not in FILLER]


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


# Reworded by another outlet ("Northwind Bank CEO resigns" / "Northwind Bank chief executive steps
# down"): few words shared, so the shingle checks above cannot see it; ``same_event`` vets the pairs
# the embeddings find (see ``rewordings``). A cosine alone cannot: in MiniLM "profit rises 5%" and
# "profit falls 5%" have a cosine of 0.95, "CEO resigns" / "chief executive steps down" 0.82.
FRAMES = ("report", "update", "breaking", "exclusive", "analysis", "opinion", "new", "watch", "earlier",
          "just in", "live", "video")  # a wire's frame before a colon: "JUST IN:", "WATCH:"
FRAME = OPENERS | frozenset(w for frame in FRAMES for w in frame.split())
PERIODS = frozenset("first second third fourth fifth last q1 q2 q3 q4 h1 h2 quarterly annual yearly "
                    "monthly weekly daily".split())
ROLES = {"ceo": "ceo", "cfo": "cfo", "coo": "coo", "cto": "cto", "chair": "chair", "chairman": "chair",
         "chairwoman": "chair", "president": "president", "chief executive": "ceo",
         "chief financial": "cfo", "chief operating": "coo", "chief technology": "cto"}
_ROLE = re.compile(r"\b(" + "|".join(sorted(ROLES, key=len, reverse=True)) + r")\b")
# which way a story goes; two tellings of one event go the same way ("cuts" / "slashes")
DIRECTIONS = {direction: frozenset(stem(w) for w in ws.split()) for direction, ws in {
    "up": "add rise gain beat win up raise hire grow increase jump climb surge soar rally higher approve "
          "accept buy open expand boost strong profit upgrade above succeed resume lift record high green",
    "down": "cut fall lose loss miss down lower shed shrink decrease drop slide slump plunge sink tumble "
            "reject deny sell close reduce weak downgrade below fail halt suspend slash low red block",
    "steady": "hold keep maintain unchanged steady pause flat"}.items()}
DENIALS = NEGATIONS | {"deny", "denies", "denied", "rules", "rule"}  # "rules out", "denies plan to"
SCALES = {"k": "thousand", "thousand": "thousand", "m": "million", "mn": "million", "mln": "million",
          "million": "million", "b": "billion", "bn": "billion", "billion": "billion",
          "trillion": "trillion", "tn": "trillion"}
AMOUNTS = frozenset("hundred hundreds thousand thousands million millions billion billions dozen dozens".split())
_CAPITALISED = re.compile(r"\$?[^\W\d_][\w&'.-]*")
_FRAME_PREFIX = re.compile(r"^\W*(?:" + "|".join(FRAMES) + r")\s*:\s*", re.I)
# a passive's "by" after its participle ("acquired by", "cut to junk by"), not "gas use by member states"
_PASSIVE = re.compile(r"\b(?:\w+(?:ed|en)|cut|hit|bought|sold|led|won|held|hurt|set|put|shut|struck|caught)"
                      r"(?:\s+[\w'$&.-]+){0,2}\s+by\b", re.I)
_NUMBER = re.compile(r"^\$?(\d+(?:\.\d+)?)(%|[a-z]+)?$")


def same_event(a: str, b: str) -> bool:
    """Whether two headlines worded differently can report one event: the same names, in the
    same order ("A buys B" is not "B acquires A"; a passive's agent counts first: "B acquired
    by A"), the same amounts, periods and roles, both
    questions or neither, both denials or neither, and no word of one going a way the other's
    does not ("wins" / "loses", "raises" / "holds").

    >>> same_event("Northwind Bank CEO resigns", "Northwind Bank chief executive steps down")
    True
    >>> same_event("Northwind Bank CEO resigns", "Northwind Bank CFO resigns")
    False
    >>> same_event("Atlas Motors profit rises 5%", "Atlas Motors profit falls 5%")
    False
    >>> same_event("Atlas Motors buys Helios Energy", "Helios Energy acquires Atlas Motors")
    False
    >>> same_event("Atlas Motors buys Helios Energy", "Helios Energy acquired by Atlas Motors")
    True
    >>> same_event("Citibank announcement: rate fix", "Deutsche Bank AG announcement: rate fix")
    False
    """
    runs_a, runs_b = _name_runs(a, b), _name_runs(b, a)
    if not runs_a or {w for r in runs_a for w in r.split()} != {w for r in runs_b for w in r.split()}:
        return False
    passive_a, passive_b = bool(_PASSIVE.search(a)), bool(_PASSIVE.search(b))
    if passive_a != passive_b:  # "B acquired by A" / "A buys B": the agent is the active one's subject
        passive, active = (a, b) if passive_a else (b, a)
        agent = key_tokens(passive[_PASSIVE.search(passive).end():])
        if not agent or key_tokens(active)[:1] != agent[:1] or \
                not _same_order(_agent_first(runs_a, a), _agent_first(runs_b, b)):
            return False
    elif not _same_order(runs_a, runs_b):
        return False
    if _asks(a) != _asks(b):
        return False
    numbers_a, numbers_b = _numbers(a), _numbers(b)
    if numbers_a and numbers_b and numbers_a != numbers_b:
        return False
    words_a, words_b = set(words(a.lower())), set(words(b.lower()))
    if words_a & PERIODS != words_b & PERIODS or bool(words_a & DENIALS) != bool(words_b & DENIALS):
        return False
    roles_a, roles_b = {ROLES[r] for r in _ROLE.findall(a.lower())}, {ROLES[r] for r in _ROLE.findall(b.lower())}
    if roles_a and roles_b and roles_a != roles_b:
        return False
    keys_a, keys_b = key_tokens(a), key_tokens(b)
    if sorted(keys_a) == sorted(keys_b) and passive_a == passive_b:
        return keys_a == keys_b  # the same words in another order: "A buys B" / "B buys A"
    ways_a, ways_b = _ways(set(keys_a) - set(keys_b)), _ways(set(keys_b) - set(keys_a))
    return not (ways_a and ways_b and ways_a != ways_b)


def _same_order(runs_a: list[str], runs_b: list[str]) -> bool:
    """Whether the names both lists hold come in the same order."""
    return [r for r in runs_a if r in runs_b] == [r for r in runs_b if r in runs_a]


def _agent_first(runs: list[str], text: str) -> list[str]:
    """``runs`` with a passive's agent first, where the active voice names it: "Helios Energy
    acquired by Atlas Motors" orders its names as "Atlas Motors buys Helios Energy" does."""
    agents = [r for r in runs if re.search(r"\bby\s+" + r"\s+".join(map(re.escape, r.split())) + r"\b", text, re.I)]
    return agents + [r for r in runs if r not in agents]


def _ways(keys: set[str]) -> set[str]:
    """The directions (up, down, steady) these stemmed words go."""
    return {direction for direction, group in DIRECTIONS.items() if keys & group}


def _asks(text: str) -> bool:
    """Whether the first sentence is a question ("How will $NFLX react to earnings?" reports
    nothing yet)."""
    return bool(re.match(r"[^.!?]*\?", text))


def _name_runs(text: str, other: str) -> list[str]:
    """Runs of capitalised words in ``text`` ("Atlas Motors"), lower-cased, in order, without
    roles and wire frames ("WATCH:").

    A sentence's first word counts only in capitals or where either text capitalises it inside
    a sentence: "Regulator fines Northwind Bank" names Northwind Bank, not Regulator."""
    inner = {w.lower() for w, first, _ in _capitalised(text) + _capitalised(other) if not first}
    runs: list[list[str]] = []
    last = -2
    for word, first, position in _capitalised(text):
        word = word.lower().removesuffix("'s")
        if (first and not word.isupper() and word not in inner and not word.startswith("$")) \
                or word in FRAME or word in ROLES:
            continue
        if position == last + 1 and runs:
            runs[-1].append(word)
        else:
            runs.append([word])
        last = position
    return [" ".join(run) for run in runs]


def _capitalised(text: str) -> list[tuple[str, bool, int]]:
    """(word, opens its sentence, position in the text) for each capitalised word or cashtag."""
    found, position = [], 0
    # subtle: a colon ends a wire frame ("WATCH: Shares of ...") but not a title's label
    # ("$OPTNX: Unusual Options Activity" / "$OPTNX: Early Options Activity" are two reports)
    for sentence in re.split(r"(?<=[.!?;])\s+|\n", _FRAME_PREFIX.sub("", text)):
        for i, word in enumerate(_CAPITALISED.findall(sentence)):
            word = word.rstrip(".'")
            if word[:1].isupper() or word.startswith("$"):
                found.append((word, i == 0, position))
            position += 1
        position += 1  # a sentence break ends a run
    return found


def _numbers(text: str) -> set[str]:
    """The amounts a text states: ``"$2,000"`` and ``"2000"`` alike, ``"$2 billion"`` and
    ``"$2bn"`` alike, and words standing for one ("a thousand", "hundreds")."""
    tokens = words(THOUSANDS.sub("", text))
    found = set()
    for i, token in enumerate(tokens):
        match = _NUMBER.match(token)
        if match:
            unit = match.group(2) or (tokens[i + 1] if i + 1 < len(tokens) else "")
            found.add(match.group(1) + (SCALES.get(unit, "%" if unit == "%" else "")))
        elif token in AMOUNTS and not (i and _NUMBER.match(tokens[i - 1])):
            found.add(token.rstrip("s"))
    return found


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
