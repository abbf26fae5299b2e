"""Which language a text is written in, told by its function words: the apps' models read one
language, and a text in another gets a confident wrong answer. The support bot hands such a
message off (it had been handed off with a misleading reason: "names Lieferung, which neither the
knowledge base nor the intent examples mention"); the finance monitor skips and counts such an
article.

Also what English's word lists say a word is (:func:`parts_of_speech`, :func:`things`): the
support bot hands off a question about a thing its shop never names ("sofa", "xbox"), and the
finance monitor keeps apart two headlines that swap one thing ("brake fault" / "airbag fault").

>>> language("Wie lange dauert die Lieferung?"), language("¿Puedo devolver mi bicicleta?")
('German', 'Spanish')
>>> language("combien coûte la livraison ?"), language("Ship to Las Palmas de Gran Canaria?")
('French', None)
>>> language("Klarna?") is None
True
"""

from __future__ import annotations

import re
from functools import lru_cache

# a few dozen of each language's commonest short words, none of them a common English word or
# abbreviation: "est" ("EPS $1.20 vs $1.10 est."), "per" ("3.2 per cent"), "y" ("Y/Y"), "com"
# ("Amazon.com"), "come", "non", "con", "ma" and "o" made 134 of 21,107 English finance tweets
# "another language" (0 without them; 1 of 4,846 Financial PhraseBank sentences, "y-y")
FUNCTION_WORDS = {
    "English": "the a an is are and i my you your what how when where can do does to for of with not it this that "
               "be have will would there which from on at in me we our get please just if or but so as by about",
    "German": "der die das und nicht ich ein eine einen mit für auf wie wann wo kann mein meine meinen bitte haben "
              "sind wird zu von dem ihr ihre sie wir noch schon oder aber ist",
    "French": "le la les de des et je ne pas pour une avec combien mon mes vous nous que qui dans sur du au "
              "aux ce cette où quand comment puis peux",
    "Spanish": "el la los las es que de mi mis por para puedo cómo cuánto cuanto dónde donde cuándo una su "
               "sus está esta hay del",
    "Italian": "il la lo gli della di che è mio mia quanto dove quando posso sono ho",
    "Dutch": "de het een van en ik niet met voor op hoe wanneer waar mijn kan zijn wordt ook naar",
    "Portuguese": "os de um não meu minha onde posso são do da dos das",
}
_WORDS = {name: frozenset(words.split()) for name, words in FUNCTION_WORDS.items()}
_TOKEN = re.compile(r"[^\W\d_]+")
# a name's small words are no sign of its language: "Las Palmas de Gran Canaria", "Rue de la Paix"
# (a capital is a capital: "[^\W\d_a-z]" had taken "ü" for one, and "Siemens übertrifft" for a name)
_UPPER = "A-ZÀ-ÖØ-Þ"
_NAME = re.compile(rf"\b[{_UPPER}][\w'-]*(?:\s+(?:(?:[a-z]{{1,3}}\s+){{0,2}}[{_UPPER}][\w'-]*))+")


# English's common words: scikit-learn's stop-word list, copied so that reading a message needs no
# scikit-learn import (1.0 s of a 6 s `support ask` process). Copyright (c) 2007-2024 The scikit-learn
# developers, BSD-3-Clause (sklearn/feature_extraction/_stop_words.py, from the Glasgow Information
# Retrieval Group's list)
STOP_WORDS = frozenset((
    "a about above across after afterwards again against all almost alone along already also although "
    "always am among amongst amoungst amount an and another any anyhow anyone anything anyway anywhere "
    "are around as at back be became because become becomes becoming been before beforehand behind being "
    "below beside besides between beyond bill both bottom but by call can cannot cant co con could "
    "couldnt cry de describe detail do done down due during each eg eight either eleven else elsewhere "
    "empty enough etc even ever every everyone everything everywhere except few fifteen fifty fill find "
    "fire first five for former formerly forty found four from front full further get give go had has "
    "hasnt have he hence her here hereafter hereby herein hereupon hers herself him himself his how "
    "however hundred i ie if in inc indeed interest into is it its itself keep last latter latterly least "
    "less ltd made many may me meanwhile might mill mine more moreover most mostly move much must my "
    "myself name namely neither never nevertheless next nine no nobody none noone nor not nothing now "
    "nowhere of off often on once one only onto or other others otherwise our ours ourselves out over own "
    "part per perhaps please put rather re same see seem seemed seeming seems serious several she should "
    "show side since sincere six sixty so some somehow someone something sometime sometimes somewhere "
    "still such system take ten than that the their them themselves then thence there thereafter thereby "
    "therefore therein thereupon these they thick thin third this those though three through throughout "
    "thru thus to together too top toward towards twelve twenty two un under until up upon us very via "
    "was we well were what whatever when whence whenever where whereafter whereas whereby wherein "
    "whereupon wherever whether which while whither who whoever whole whom whose why will with within "
    "without would yet you your yours yourself yourselves"
).split())


# letters English words lack (not "ç": "façade"; nor in English's loanwords: "jalapeño prices
# soar"): a lower-case word outside names with one counts as two function words ("Siemens erhöht
# Prognose" has none); capitalised words are left out, "Müller" is a name
_LETTERS = {"German": "äöüß", "Spanish": "ñ", "Portuguese": "ãõ", "French": "œ"}
_LOANWORDS = frozenset("über jalapeño jalapeños doppelgänger piñata piñatas mañana señor señora señorita".split())


def language(text: str) -> str | None:
    """The language whose function words ``text`` uses most, outside names; English on a tie
    with it; None when it uses none. Another language needs two of its words at least ("La
    Rochelle" in an English question is one), or one lower-case word with its own letters where
    no English word is:

    >>> language("Siemens erhöht Prognose"), language("Müller shares slump"), language("Nestlé jumps")
    ('German', None, None)
    """
    written = _TOKEN.findall(_NAME.sub(" ", text))
    tokens = [w.lower() for w in written]
    hits = {name: sum(t in words for t in tokens) for name, words in _WORDS.items()}
    if not hits["English"]:
        for word in (w for w in written if w[0].islower() and w not in _LOANWORDS):
            if mark := next((name for name, letters in _LETTERS.items() if any(c in letters for c in word)), None):
                hits[mark] += 2
    best = max(hits, key=lambda name: (hits[name], name == "English"))
    if not hits[best]:
        return None
    return best if best == "English" or hits[best] >= 2 else "English" if hits["English"] else None


def things(words: list[str]) -> list[str]:
    """The ``words`` that can only name a thing: English's nouns and no other part of speech
    ("sofa", "router"), and words no English lexicon lists ("netflix", "xbox"); not "waiting",
    "recent", "crack" (a verb too) or "twice" (lemminflect's word lists).

    >>> things(["sofa", "xbox", "crack", "twice"])
    ['sofa', 'xbox']
    """
    return [w for w in words if parts_of_speech(w) <= {"NOUN", "PROPN"}]


def parts_of_speech(word: str) -> set[str]:
    """The parts of speech English's word lists give ``word`` (lower case); none for a word they
    do not list.

    >>> sorted(parts_of_speech("brake")), parts_of_speech("airbag")
    (['NOUN', 'VERB'], set())
    """
    from lemminflect import getAllLemmas

    return set(getAllLemmas(word))


@lru_cache(maxsize=100_000)
def lemmas(word: str) -> frozenset[str]:
    """``word`` (lower case) and every lemma English's word lists give it, any part of speech;
    for an "-ing" or "-ed" form they do not list, the verb it guesses. Forms of one word then
    share one: "rented" and "rent", "vaping" and "vape".

    >>> sorted(lemmas("rented")), sorted(lemmas("vaping"))
    (['rent', 'rented'], ['vape', 'vaping'])
    """
    from lemminflect import getAllLemmas, getAllLemmasOOV

    found = getAllLemmas(word) or (getAllLemmasOOV(word, "VERB") if word.endswith(("ing", "ed")) else {})
    return frozenset({word, *(lemma for forms in found.values() for lemma in forms)})


@lru_cache(maxsize=100_000)
def noun_lemma(word: str) -> str:
    """``word``'s singular as English's word lists give it for a noun (pass it lower case);
    ``word`` itself when they list no such noun.

    >>> noun_lemma("batteries"), noun_lemma("cookies"), noun_lemma("xboxes")
    ('battery', 'cookie', 'xboxes')
    """
    from lemminflect import getAllLemmas

    return getAllLemmas(word).get("NOUN", (word,))[0]
