"""Word tokens for comparing stories: lower-cased words, crude stems, and the key tokens that can
carry a fact (filler and thousands separators dropped). ``dedupe`` and ``same_event`` both read
stories through these.
"""

from __future__ import annotations

import re

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
