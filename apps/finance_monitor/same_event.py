"""``same_event``: whether two headlines worded differently can report one event (names and their
order, amounts, periods, roles, questions, denials, direction); ``rewordings`` asks it of the
pairs its embeddings find.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from shared.language import parts_of_speech, things

from .tokens import FILLER, NEGATIONS, OPENERS, THOUSANDS, key_tokens, stem, words

# Reworded by another outlet ("Northwind Bank CEO resigns" / "Northwind Bank chief executive steps
# down"): few words shared, so ``dedupe``'s shingle checks cannot see it; ``same_event`` vets the pairs
# the embeddings find (see ``rewordings``). A cosine alone cannot: in MiniLM "profit rises 5%" and
# "profit falls 5%" have a cosine of 0.95, "CEO resigns" / "chief executive steps down" 0.82.
FRAMES = ("report", "update", "breaking", "exclusive", "analysis", "opinion", "new", "watch", "earlier",
          "just in", "live", "video", "look", "icymi")  # a wire's frame before a colon: "JUST IN:", "WATCH:"
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
# numbers written as words ("four contenders", "five years"); not "one", a pronoun as often. Only
# a swap compares them (``_swapped``): among amounts, "two decades" / "since 2002" had split a story
NUMBER_WORDS = {w: str(n) for n, w in enumerate(
    "two three four five six seven eight nine ten eleven twelve".split(), start=2)} | {
    w: str(n) for n, w in zip(range(20, 100, 10), "twenty thirty forty fifty sixty seventy eighty ninety".split())}
# things two outlets name either way ("cars" / "vehicles"), stemmed; any other swapped thing is
# another event (see ``_swapped``)
SYNONYMS = [frozenset(stem(w) for w in group.split()) for group in (
    "car vehicle", "share stock", "job role position post worker employee staff", "probe investigation inquiry",
    "fine penalty", "deal agreement pact", "plant factory site", "profit earning", "lawsuit suit",
    "firm company group", "boss chief head", "takeover acquisition merger bid", "stake holding",
    "sale revenue turnover", "dividend payout", "carmaker automaker", "output production",
    "shareholder investor", "lender bank")]
_CAPITALISED = re.compile(r"\$?[^\W\d_][\w&'.-]*")
_FRAME_PREFIX = re.compile(r"^\W*(?:" + "|".join(FRAMES) + r")\s*:\s*", re.I)
# a passive's "by" after its participle ("acquired by", "cut to junk by"), not "gas use by member states"
_PASSIVE = re.compile(r"\b(?:\w+(?:ed|en)|cut|hit|bought|sold|led|won|held|hurt|set|put|shut|struck|caught)"
                      r"(?:\s+[\w'$&.-]+){0,2}\s+by\b", re.I)
_NUMBER = re.compile(r"^\$?(\d+(?:\.\d+)?)(%|[a-z]+)?$")
_CASHTAG = re.compile(r"\(?(?<![\w$])\$[A-Z]{1,6}\b\)?")  # "$KSTL", "($ORSM)"; not "$3bn"


def same_event(a: str, b: str) -> bool:
    """Whether two headlines worded differently can report one event: the same names, in the
    same order ("A buys B" is not "B acquires A"; a passive's agent counts first: "B acquired
    by A"), the same amounts, periods and roles, both
    questions or neither, both denials or neither, and no word of one going a way the other's
    does not ("wins" / "loses", "raises" / "holds"), and not one thing swapped for another in
    the same words ("brake fault" / "airbag fault").

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
    >>> same_event("Kestrel Airlines CEO resigns $KSTL", "Kestrel Airlines chief executive steps down")
    True
    """
    # subtle: "Kestrel Airlines CEO resigns ... $KSTL" had another name than the same story told
    # without its cashtag, and counted twice in an alert: a cashtag one telling lacks names nothing
    a, b = _unshared_cashtags_out(a, b), _unshared_cashtags_out(b, a)
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
    if _swapped(a, b):
        return False
    keys_a, keys_b = key_tokens(a), key_tokens(b)
    if sorted(keys_a) == sorted(keys_b) and passive_a == passive_b:
        return keys_a == keys_b  # the same words in another order: "A buys B" / "B buys A"
    ways_a, ways_b = _ways(set(keys_a) - set(keys_b)), _ways(set(keys_b) - set(keys_a))
    return not (ways_a and ways_b and ways_a != ways_b)


def _swapped(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` say the same words in the same order but for one thing or number
    swapped for another: "Atlas Motors recalls 1,000 vehicles over brake fault" / "... over
    airbag fault", "four contenders" / "five contenders". A thing is a noun or a word no English
    word list has; one of the two must be nothing else ("brake" is a verb too, "airbag"
    unlisted). Not a spelling ("fulfil" / "fulfill", "Candian"), a synonym (``SYNONYMS``), a
    scale ("mln" / "million"), a handle or hashtag, or a wire's frame ("LOOK:" / "ICYMI:").

    subtle: of 593 pairs of real finance tweets within 0.8 cosine that ``same_event`` joined,
    23 differ in one word, nearly all one event told twice: tense, spelling, "five" / "5",
    "usher" / "augur", "before" / "ahead of". Only swapped things and numbers are kept apart,
    so those still join."""
    words_a, words_b = _plain_words(a), _plain_words(b)
    swaps = [(x, y) for x, y in zip(words_a, words_b) if stem(x) != stem(y)]
    if len(words_a) != len(words_b) or len(swaps) != 1:
        return False
    x, y = (NUMBER_WORDS.get(w, w) for w in swaps[0])
    if x.isdigit() and y.isdigit():
        return x != y
    if not (x.isalpha() and y.isalpha()) or {x, y} & set(SCALES) \
            or SequenceMatcher(None, x, y).ratio() >= 0.8 \
            or any({stem(x), stem(y)} <= group for group in SYNONYMS):
        return False
    return all(not parts or "NOUN" in parts for parts in map(parts_of_speech, (x, y))) and bool(things([x, y]))


def _plain_words(text: str) -> list[str]:
    """A headline's words that can carry a fact, unstemmed: no wire frame, handle, hashtag,
    thousands separator or filler."""
    text = THOUSANDS.sub("", re.sub(r"[@#]\w+", " ", _FRAME_PREFIX.sub("", text)))
    return [w for w in words(text) if w not in FILLER]


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


def _unshared_cashtags_out(headline: str, other: str) -> str:
    """``headline`` without the cashtags ``other`` does not hold ("$KSTL", "($ORSM)"; "$KS" is not
    "$KSTL")."""
    held = {tag.strip("()") for tag in _CASHTAG.findall(other)}
    return _CASHTAG.sub(lambda m: m.group() if m.group().strip("()") in held else " ", headline)


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
