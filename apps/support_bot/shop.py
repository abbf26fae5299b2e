"""What the shop's own texts (its knowledge base and in-scope intent examples) say of it, and
the checks a question faces against them: the words they use (a name outside them is not the
shop's subject), their language, the contacts they give, and the speller built on them; and what
the out-of-scope examples say it is not (their questions, and the words only they use).

Built once per knowledge base by :meth:`Shop.read`; a KB change makes a new one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from shared.language import STOP_WORDS, language, lemmas, parts_of_speech, things

from .answer import Answer
from .courtesy import COURTESY_WORDS
from .knowledge import Chunk
from .masking import PLACEHOLDER, contact_kinds, mask_pii, shop_contacts
from .names import names_mark_subjects, unknown_names, vocabulary
from .questions import names_inside, same_words, separate_questions
from .ranking import singular, tokenize
from .retrieval import Retriever
from .spelling import Speller

# the words for a contact the shop's texts give (:func:`.masking.contact_kinds`): an e-mail address, a phone
# number, a street address
CONTACT_WORDS = {"email": ("email", "mail", "address"), "phone": ("number", "phone", "telephone", "call", "ring"),
                 "address": ("address", "located", "location", "postcode")}
# Below SURE_MATCH (the best passage's search cosine), a question's word the shop never uses must
# come ADDRESSED near a word of the answer; set on the demo's questions and 40 written about its
# trade (README): slang for what the shop does ("my mate", "the e-bike juice") matches it closely
ADDRESSED, SURE_MATCH, CHECKED_WORDS = 0.42, 0.5, 8  # CHECKED_WORDS: a question's words beyond stop words
# two or more words of a question the shop's texts never use, one of them under this search cosine to
# every word of the answer: its subject is none of the shop's, at any confidence ("a climbing wall", "a
# physiotherapy clinic", "holiday camps" were answered with lockers, accessible gym kit, swimming lessons)
STRANGE_PAIR = 0.5
# what tokenizing leaves of a contraction: "I'm" -> "i", "m" (a hand-off said "about m and going");
# and contractions typed without their apostrophe ("i aint registered": a thing no lexicon lists)
_CONTRACTED = frozenset("m s t d re ve ll aint dont doesnt didnt cant wont isnt arent wasnt werent havent hasnt "
                        "hadnt couldnt shouldnt wouldnt mustnt neednt im ive youre youve theyre theyve weve thats "
                        "whats wheres hows whos theres heres lets doesn didn isn aren wasn weren haven hasn hadn "
                        "couldn shouldn wouldn mustn needn".split())  # "it doesn't work": "doesn", "t"
# chat's fillers, which no lexicon lists either ("i wanna reset my password asap")
_CHATTER = frozenset("asap btw tbh imo imho fyi lol omg idk lmk brb ty tysm np gonna gotta wanna kinda sorta "
                     "yeah yep nope ok okay hmm ugh pls plz thx".split())
# how a question hedges, and the people it leaves unnamed, which the stop list lacks: "Is it possible to
# spread the cost ...?" was handed off as about "possible", "Somebody handed in my bank card ..." as
# about "somebody"
_HEDGES = frozenset("possible possibly able allowed maybe really actually somebody anybody everybody".split())
# words that count or sort what follows them, no subject of their own: "how do I return a pair of
# gloves?" was handed off as about "pair" ("how do I return gloves?" got the returns template)
_PARTITIVES = frozenset("pair pairs couple set sets piece pieces bunch kind kinds sort sorts type types".split())
# words that stand for whatever the question names beside them: "Is there a yearly option?" asks for a
# yearly membership, not about "option"
_VAGUE = frozenset("option options choice choices alternative alternatives thing things".split())
# words that compare what follows them: "What's the price difference between Fibre 500 and Fibre 900?"
# names the two plans, not "difference"; "what's the longest boat you can store?" a boat, not "longest"
_COMPARING = frozenset("difference differences different compare compared comparing comparison versus vs cheapest "
                       "cheaper expensive priciest dearest lowest highest fewest biggest largest smallest longest "
                       "shortest fastest slowest latest earliest".split())
# phrases of time and manner that name no subject: "got any deals on at the moment?" was handed off as
# about "moment"
_IDIOMS = re.compile(r"\b(?:at|for) the (?:moment|minute|mo|time being)\b|\bright now\b|\bat present\b|"
                     r"\bthese days\b|\b(?:by )?any chance\b|\bhow far (?:in advance|ahead)\b|\bin advance\b", re.I)

# common words no subject: scikit-learn's stop list less the nouns in it ("bill", "interest": "can
# I pay my phone bill here?" names what a shop may not do)
_COMMON = STOP_WORDS - frozenset(
    "bill fire interest system call name part show top mine amount detail back front side bottom empty "
    "fill thick thin cry found con de describe".split())
# prepositions the stop list lacks: "the frame has a crack near the weld" is about a crack and a weld
_PREPOSITIONS = frozenset("near nearby inside outside opposite".split())
# the words above, which name no subject of a question
_NO_SUBJECT = COURTESY_WORDS | _COMMON | _CONTRACTED | _CHATTER | _HEDGES | _PARTITIVES | _VAGUE | _COMPARING \
    | _PREPOSITIONS

KB_LANGUAGE_CHUNKS = 200  # the knowledge base's language is told from its first chunks


def kb_language(chunks: Iterable[Chunk]) -> str | None:
    """The language of the knowledge base's chunks (titles too), which the bot reads; None when
    their words are no language's function words (or there are none)."""
    return language(" ".join([f"{c.title}\n{c.text}" for c in chunks][:KB_LANGUAGE_CHUNKS]))


@dataclass(frozen=True)
class Shop:
    """The ``words`` the shop's texts use (None where every noun is capitalised: see
    :func:`.names.names_mark_subjects`), their ``language``, the ``contacts`` they give (help desk
    e-mail and phone: no personal data where the bot quotes them), the ``speller`` over them,
    the ``out_of_scope`` examples (by their words, :func:`.questions.same_words`; none that any
    example also labels otherwise), and the ``foreign`` words: used only by out-of-scope examples,
    and no whole word of the encoder's list either ("gmail", "bitcoin": names and jargon of other
    trades, which the intent model reads in pieces; none without such a list); the
    ``contact_chunks``, which give a phone number, an e-mail address or a street address; and the
    intents of the examples the model was calibrated on (``held``), by their words."""

    words: set[str] | None
    language: str | None
    contacts: frozenset[str]
    speller: Speller
    out_of_scope: frozenset[str]
    foreign: frozenset[str]
    lemmas: frozenset[str] = frozenset()  # of ``words``: the KB's "rented" makes a question's "rent" known
    # the chunks that give a phone number, e-mail or street address, with which of them (contact_kinds)
    contact_chunks: tuple[tuple[Chunk, frozenset[str]], ...] = ()
    held: Mapping[str, str] = field(default_factory=dict)  # a calibration example's words -> its one intent

    @classmethod
    def read(cls, retriever: Retriever, examples: pd.DataFrame, oos_label: str | None,
             held: pd.DataFrame | None = None) -> Shop:
        """From the KB's chunks (titles too) and the intent examples (``text``, ``label``) other
        than ``oos_label``, plurals folded; ``held``: those of them the model was calibrated on,
        not trained on."""
        texts = [f"{c.title}\n{c.text}" for c in retriever.chunks.values()]
        in_scope = list(examples.loc[examples["label"] != oos_label, "text"])
        words = vocabulary(texts + in_scope) if names_mark_subjects(texts) else None
        contacts = tuple((c, kinds) for c in retriever.chunks.values() if (kinds := frozenset(contact_kinds([c.text]))))
        if words is not None:  # what the texts give in digits or as an address, though they never say the word
            # subtle: "what's your phone number?" was handed off as about "number": the contact
            # article says "Call us on 01632 960418"
            words |= {w for _, kinds in contacts for kind in kinds for w in CONTACT_WORDS[kind]}
        chunks = [c.text for c in retriever.chunks.values()]
        encoder_words = _word_list(retriever)
        speller = Speller(chunks + list(examples["text"]) if chunks and encoder_words else [], encoder_words or ())
        outside = examples["label"] == oos_label
        out_of_scope = {same_words(t) for t in examples.loc[outside, "text"]} - \
            {same_words(t) for t in examples.loc[~outside, "text"]}
        labels: dict[str, set[str]] = {}  # subtle: keyed as the speller reads them ("email": the KB's "e-mail")
        for text, label in [] if held is None else zip(held["text"], held["label"], strict=True):
            labels.setdefault(same_words(speller.correct(text)), set()).add(label)
        # subtle: the encoder's list is read before plurals are folded: folded, "paris" was "pari"
        foreign = {singular(w) for text in examples.loc[outside, "text"] for w in re.findall(r"[a-z]+", text.lower())
                   if encoder_words is not None and w not in encoder_words} - (words or set())
        return cls(words, kb_language(retriever.chunks.values()), shop_contacts(texts), speller,
                   frozenset(out_of_scope), frozenset(foreign), frozenset().union(*map(lemmas, words or ())),
                   contacts,
                   {key: label for key, (label, *others) in labels.items() if not others and label != oos_label})

    def out_of_scope_example(self, message: str) -> bool:
        """Whether ``message`` is an out-of-scope example's words (any case or punctuation).
        subtle: the model, trained on "how to cancel netflix" as out of scope, put it under
        cancel_subscription (0.57), and search answered it with the cancel guide."""
        return not separate_questions(message) and same_words(message) in self.out_of_scope

    def held_intent(self, message: str) -> str | None:
        """The intent whose calibration example ``message`` is (its words as the speller reads
        them, any case or punctuation; one labelled two ways, or out of scope, is none), else
        None. subtle: "is there a deposit" and "do you accept amex" were intents file rows held out
        to calibrate the model, which never learnt them: 0.33 sure of the first, answered from
        another page."""
        return None if separate_questions(message) else self.held.get(same_words(self.speller.correct(message)))

    def unknown_names(self, message: str) -> list[str]:
        """The names in ``message`` the shop's texts never use (:mod:`.names`)."""
        return [] if self.words is None else unknown_names(message, self.words, self.speller.word)

    def unused_words(self, message: str) -> list[str]:
        """The words of a short ``message`` the shop's texts never use (plurals folded), courtesy
        words and names inside a sentence left out; none in a long one.

        Only a short question is checked (``CHECKED_WORDS`` besides stop words): in a story most words
        are none the shop uses ("basically", "annoyed"), and capitalised ones are names, the
        names rule's (a person's are no subject: "Jane Doe here, my order ...")."""
        known = self.words
        # subtle: "how much does it cost to rent a locker?" was handed off as about "rent", and "can I
        # vape?" as about "vape": the lockers "can be rented", the house rules name "vaping". One way
        # only: a question's "booking" is not the KB's "book" ("can I cancel my holiday booking"
        # was then answered with the order-cancelling FAQ)
        return [] if known is None else [w for w in _candidate_words(message) if singular(w) not in known
                                         and w not in self.lemmas and singular(w) not in self.lemmas]

    def foreign_words(self, message: str) -> list[str]:
        """The words of a short ``message`` (:meth:`unused_words`) that only out-of-scope examples
        use, and no whole word of the encoder's (:attr:`foreign`). subtle: with "how do I reset
        my gmail password" out of scope, "reset my gmail password" got the password template."""
        return [w for w in self.unused_words(message) if singular(w) in self.foreign]

    def unaddressed_things(self, message: str, answer: Answer, encode: Callable[[list[str]], np.ndarray]) -> list[str]:
        """The things ``message`` names (:func:`things`) that the shop's texts never use and no
        word of the answer comes near (as :meth:`unaddressed`), whatever the answer's confidence:
        a template's too. Nothing for a shop whose texts are not known to be English (the word lists
        are English's).

        subtle: "how do I reset my xbox password" got the password template at p 0.86, "can I get a
        refund for my cinema tickets" the refunds article at cosine 0.53. Unknown words of any kind
        checked on templates lost 5 right ones ("I'm still waiting for the refund", "void my
        order"); things alone handed off 9 more of the demo's questions for other trades and
        unanswerable ones, and lost one template answer ("refund timeline": "timeline" is in no
        word list, and the refund template's nearest word is 0.38 from it)."""
        if self.language != "English":  # None too: a language told from no word list's function words
            return []
        unused = self._unused_subjects(message, answer)
        nearest = nearest_cosines(unused, answer, encode)
        return [w for w in things(unused) if nearest[w] < ADDRESSED] or _strange_pair(unused, nearest)

    def unaddressed(self, message: str, answer: Answer, encode: Callable[[list[str]], np.ndarray]) -> list[str]:
        """The words of ``message`` the shop's texts never use (:meth:`unused_words`) and no word of
        the answer's quotes or titles comes near (search cosine under ``ADDRESSED``, by ``encode``):
        what the answer does not speak to. Checked only below ``SURE_MATCH``; above it, only the
        things among them (:meth:`unaddressed_things`). subtle: search finds
        the nearest passage for anything near the shop's trade: "Do you do gift wrapping?" was
        answered with how to redeem a gift card, "Can I bring my dog into the store?" with Click &
        Collect."""
        if answer.confidence >= SURE_MATCH:
            return self.unaddressed_things(message, answer, encode)
        unused = self._unused_subjects(message, answer)
        nearest = nearest_cosines(unused, answer, encode)
        far = [w for w in unused if nearest[w] < ADDRESSED]
        return far or (_strange_pair(unused, nearest) if self.language == "English" else [])

    def _unused_subjects(self, message: str, answer: Answer) -> list[str]:
        """The words of ``message`` the shop's texts never use (:meth:`unused_words`), less those
        modifying a word the answer quotes (:func:`_modifying_quoted`)."""
        if not (unused := self.unused_words(message)):
            return []
        modifying = _modifying_quoted(message, answer)
        return [w for w in unused if w not in modifying]

    def unanswered(self, message: str, answer: Answer, encode: Callable[[list[str]], np.ndarray]) -> list[str]:
        """The words of a short ``message`` that may be a subject (the shop's own too) that no word
        of the answer comes near (as :meth:`unaddressed`), where there are two or more: an answer
        that speaks to neither of two things asked. English only, as the word lists are.

        subtle: "Do you support Wi-Fi calling?" was quoted the in-flight calls passage, "Can I book a
        table at the Tidewater cafe for lunch?" the café's members' discount, "what happens if my direct debit
        fails?" the card payment passage. On four audits' 185 grounded answers to opening questions,
        one far word marked 10 right answers beside 16 wrong ones; two marked those 3 and no right one."""
        if self.language != "English" or len(words := _candidate_words(message)) < 2:
            return []  # one word could never be two: not encoded
        far = far_words(list(words), answer, encode)
        return far if len(far) >= 2 else []


def _modifying_quoted(message: str, answer: Answer) -> set[str]:
    """The words of ``message`` that word lists know as an adjective or a participle, not a noun,
    just before a word the answer quotes: how the thing it speaks of is, not another thing. subtle: "Is a
    cracked windscreen covered?" was handed off as about "cracked", though the answer was the
    windscreen cover; "windscreen damage" got it.

    >>> from .answer import Citation
    >>> cover = Answer("", "grounded", 0.5, citations=[Citation(1, 7, "insurance", "", "", "Windscreen damage: £100.")])
    >>> _modifying_quoted("Is a cracked windscreen covered?", cover), _modifying_quoted("Do you sell trams?", cover)
    ({'cracked'}, set())
    """
    quoted = {singular(w) for c in answer.citations for w in tokenize(f"{c.title} {c.quote}")}
    words = re.findall(r"[a-z]+", message.lower())
    return {w for w, after in zip(words, words[1:], strict=False) if singular(after) in quoted
            and (kinds := parts_of_speech(w)) and "NOUN" not in kinds
            and ("ADJ" in kinds or "VERB" in kinds and w.endswith(("ed", "en")))}  # not "Do you repaint frames?"


def _strange_pair(unused: list[str], nearest: dict[str, float]) -> list[str]:
    """Of the words a question uses that the shop's texts never do (``unused``, with each one's
    ``nearest`` cosine to the answer), those that may name a thing or a doing (not modifiers alone),
    where there are two or more and one of them is under ``STRANGE_PAIR``; else none. subtle: "which
    frame size suits someone 170 cm tall?" and "are engraved bottles returnable" were handed off as
    about "tall" and "returnable"."""
    named = [w for w in unused if not (kinds := parts_of_speech(w)) or kinds - {"ADJ", "ADV"}]
    return named if len(named) >= 2 and any(nearest[w] < STRANGE_PAIR for w in named) else []


def nearest_cosines(words: list[str], answer: Answer, encode: Callable[[list[str]], np.ndarray],
                    unless: set[str] = frozenset()) -> dict[str, float]:
    """Each of ``words``' highest search cosine (by ``encode``, in one call) to a word of the
    answer's quotes or titles, ``unless`` left out of those: minus infinity for each when none is
    left; infinity for an answer that quotes nothing (no word is far from it)."""
    quoted = {w for c in answer.citations for w in tokenize(f"{c.title} {c.quote}") if w.isalpha()}
    if not words or not quoted:
        return dict.fromkeys(words, float("inf"))
    if not (said := sorted(quoted - unless)):
        return dict.fromkeys(words, float("-inf"))
    return dict(zip(words, (encode(words) @ encode(said).T).max(axis=1).tolist(), strict=True))


def far_words(words: list[str], answer: Answer, encode: Callable[[list[str]], np.ndarray],
              near: float = ADDRESSED, unless: set[str] = frozenset()) -> list[str]:
    """The ``words`` no word of the answer's quotes or titles comes ``near`` (search cosine, by
    ``encode``), ``unless`` left out of those (all when none is left); none for an answer that
    quotes nothing."""
    nearest = nearest_cosines(words, answer, encode, unless)
    return [w for w in words if nearest[w] < near]


@lru_cache(maxsize=256)
def _candidate_words(message: str) -> tuple[str, ...]:
    """The words of a short ``message`` that may be a subject (:meth:`Shop.unused_words`): not
    courtesy, common, contraction, chat-filler or counting words, nor names inside a sentence, nor pieces
    of masked personal data or of idioms (``_IDIOMS``); none for a long one. Read once per message: a
    question asks it up to three times (foreign words, an out-of-scope verdict, a grounded answer's
    check)."""
    if len(tokenize(message)) > CHECKED_WORDS:
        return ()
    named = names_inside(message)
    plain = _IDIOMS.sub(" ", PLACEHOLDER.sub(" ", mask_pii(message)))  # no piece of an address
    return tuple(w for w in dict.fromkeys(tokenize(plain)) if w.isalpha() and w not in named and w not in _NO_SUBJECT)


def _word_list(retriever: Retriever) -> set[str] | None:
    """The search embedder's whole words (its WordPiece list): real words the speller leaves as
    they are. None for another tokenizer: then nothing is corrected, since every real word outside
    the shop's vocabulary would be taken for a typo."""
    vocab = retriever.embedder.path / "tokenizer.json"
    model = json.loads(vocab.read_text()).get("model", {}) if vocab.is_file() else {}
    words = model.get("vocab") if model.get("type") == "WordPiece" else None
    return {w for w in words if w.isalpha()} if isinstance(words, dict) else None
