"""What a question asks for, and whether a text gives it: clock times, a price, how long
something lasts, or the shop's phone number, e-mail or street address. Quotes and passages are
chosen by it (:func:`gives_what_is_asked`), and a question for the shop's contacts is quoted one
that gives them (:func:`asks_for_contact`)."""

from __future__ import annotations

import re

from .masking import contact_kinds
from .ranking import word_set

# a schedule, not one to make ("I'd like to schedule a tune-up", "can I schedule my service")
_ASKS_A_TIME = re.compile(r"\bwhat times?\b|\btime ?tables?\b|(?<!\bto )(?<!\bi )\bschedules?\b"
                          r"(?!\s+(?:a|an|my|me|it|one|your|our)\b)|\bopening (?:hours|times)\b|"
                          r"\bwhen (?:do|does|is|are) (?:\w+ ){0,3}(?:open|close|sail|leave|depart|run)", re.I)
_GIVES_A_TIME = re.compile(r"\b\d{1,2}[:.]\d{2}\b|\b\d{1,2} ?(?:am|pm)\b", re.I)
# a charge to pay, not a battery's ("on one charge", "how long does it take to charge?", "charge my bike");
# an insurance excess, a deposit or a fare is money too ("What's the excess if I damage the car?"), not
# "excess baggage"
_FEES = r"fee|fare|deposit|surcharge"
_PRICE_NOUNS = rf"(?:{_FEES}|charge|cost|fine|price)s?"
_ASKS_A_PRICE = re.compile(r"\bhow much (?:is|are|does|do|will|would|for|to|it|they)\b|\bcosts?\b|\bprices?\b|"
                           rf"\b(?:{_FEES})s?\b|\b(?:the|an?|my|your|insurance) excess\b"
                           r"(?!\s+(?:baggage|luggage|data|weight|usage|mileage|miles)\b)|"
                           r"(?<!one )(?<!full )(?<!single )(?<!per )(?<!each )(?<!to )\bcharges?\b"
                           r"(?! (?:my|your|the|it|up|them)\b)", re.I)
# a fee the customer acts on, which asks for no amount: "Can I challenge a cleaning fee?", "how do I
# dispute a charge?", "is it possible to spread the cost?"; not "What's the refund fee?" nor "Do I
# pay a booking fee?", which ask one
_ACTS_ON_A_PRICE = re.compile(r"\b(?:i|we|to)\s+(?:challenge|dispute|appeal|contest|query|waive|avoid|reverse|spread|"
                              r"split|complain about|object to)\s+(?:a|an|the|my|this|that|your|any|our)?\s*"
                              r"(?:[\w-]+\s+){0,2}?" + _PRICE_NOUNS + r"\b", re.I)
# what names a price without asking it: "a penalty fare", "the excess"
_NAMES_A_PRICE = re.compile(rf"\b(?:{_FEES}|charge|excess)s?\b", re.I)
_GIVES_A_PRICE = re.compile(r"[£$€¥]\s?\d|\d\s?(?:€|eur|euros?|usd|dollars?|gbp|pounds?)\b|(?<!feel )\bfree\b", re.I)
# how long something lasts or takes ("how long can I book a booth for?", "how much notice ..."; not
# "how long is the cable?"), and a quote that says it: "up to 1 hour", "14 days", "one full calendar
# month", "a fortnight", "48h", "the next working day"; "£8 per month" and "£6 a day" are rates
_ASKS_A_DURATION = re.compile(r"\bhow long (?:do|does|did|will|would|can|could|should|must|may|is it|are|have|has|"
                              r"before|until|till|after|to)\b|\bhow soon\b|\bhow much notice\b|"
                              r"\bhow many (?:minutes|hours|days|nights|weeks|months|years)\b", re.I)
_GIVES_A_DURATION = re.compile(r"\b(?:\d+|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                               r"fourteen|fifteen|twenty|thirty|forty|sixty|ninety|a few|several)"
                               r"(?:[ -](?:full|whole|clear|calendar|working|business))*[ -]"
                               r"(?:minutes?|mins?|hours?|hrs?|days?|nights?|weeks?|fortnights?|months?|years?)\b|"
                               r"(?<!\d )(?<!once )(?<!twice )\ba (?:full |whole |calendar )?"
                               r"(?:minute|hour|day|week|fortnight|month|year)\b|\b\d+ ?h\b|"
                               r"\b(?:next|same) (?:working |business )?day\b|\bovernight\b", re.I)
# a question for the shop's own phone number or e-mail address, or for either ("how do I get in
# touch?"); not for the customer's ("do I need a phone number to sign up?", "I haven't had your email
# confirmation") nor a "phone booth"; or for where it is ("where is your Northfield site?"), not for
# where an order is ("when will my parcel reach us?") or a thing on a site ("the site's calculator")
_ASKS_FOR = {
    "phone": re.compile(r"\b(?:your|ur|support|office|shop|store|customer service) (?:tele)?phone (?:number|no\b|#)|"
                        r"\bwhat(?:'s| is) (?:the|your|ur) (?:tele)?phone\b|\bwhat(?:'s| is) (?:your|ur) number\b|"
                        r"\b(?:call|ring|phone|telephone) (?:you|u)\b|\bcontact (?:phone )?number\b|"
                        r"\bnumbers? (?:to|i can|can i|should i) (?:call|ring)\b|"
                        r"\b(?:what|which) (?:phone )?number (?:do|should|can|would) (?:i|we) (?:call|ring|dial)\b|"
                        r"\bwho (?:do|should|can) (?:i|we) (?:call|ring|phone)\b", re.I),
    "email": re.compile(r"\bwhat(?:'s| is) (?:your|ur|the) (?:support |contact )?e-?mail\b|"
                        r"\b(?:your|ur|support|contact) e-?mail address\b|\be-?mail (?:you|u)\b|"
                        r"\be-?mail address (?:for|of|to) (?:you|u|support|the (?:shop|office|team))\b", re.I),
    "either": re.compile(r"\b(?:your|ur) contact (?:details|info|information)\b|\bcontact (?:you|u)\b|"
                         r"\bget in touch\b|\breach (?:you|u)\b|"
                         r"\bcontact (?:the )?(?:shop|office|team|support|customer service)\b", re.I),
    "address": re.compile(r"\bwhere(?:'s| is| are) (?:your|ur|the) (?:[\w-]+ ){0,2}(?:sites?|branch(?:es)?|stores?|"
                          r"shops?|offices?|premises|locations?|clinics?|depots?|warehouses?|buildings?)"
                          r"(?=\s*(?:[?.!]|$|located\b|based\b))|"
                          r"\bwhere (?:are|r) (?:you|u) (?:based|located)\b|\bwhere (?:can|do) i find (?:you|u)\b|"
                          r"\b(?:your|ur|postal|street|site|shop|store|office|branch) address\b|"
                          r"\bthe address (?:of|for) (?!my\b)", re.I),
}
# the words of a question for the shop's contacts that ask for no line or branch in particular
_ANY_CONTACT = frozenset("s what whats ur u you your phone telephone number call ring dial email mail e contact get "
                         "touch reach detail details info information address customer service support team office "
                         "shop store".split())
# a customer changing their own details: "how do I change the phone number on my profile"
_CHANGES = re.compile(r"\b(?:change|changing|changed|update|updating|updated|edit|editing|remove|removing|delete|"
                      r"deleting|verify|verifying|confirm|confirming|reset|resetting|enter|entering)"
                      r"(?:\s+\w+){0,3}?\s+(?:(?:tele)?phone|number|e-?mail|address|contact)", re.I)


def gives_what_is_asked(query: str, text: str) -> bool:
    """Whether ``text`` holds what ``query`` asks for, where it asks for clock times, a price,
    how long something lasts or the shop's contacts (True for any other question).

    >>> [gives_what_is_asked(q, text) for q, text in [("what time is the last ferry?", "It sails at 18:30."),
    ...                                                ("how much is a bike?", "Bikes need no booking.")]]
    [True, False]
    >>> gives_what_is_asked("how long do you hold parcels?", "Post is forwarded for £8 per month.")
    False
    >>> gives_what_is_asked("I'd like to schedule a tune-up", "Book a slot online.")  # a verb: no time asked
    True
    >>> [gives_what_is_asked(q, "You can dispute it within 14 days.") for q in ("Can I challenge a cleaning fee?",
    ...                                                                        "how much is the fee to cancel?")]
    [True, False]
    """
    return not ((_ASKS_A_TIME.search(query) and not _GIVES_A_TIME.search(text))
                or (_ASKS_A_PRICE.search(_ACTS_ON_A_PRICE.sub("", query)) and not _GIVES_A_PRICE.search(text))
                or (_ASKS_A_DURATION.search(query) and not _GIVES_A_DURATION.search(text))
                or ((asked := asks_for_contact(query)) and not asked & contact_kinds([text])))


def lacks_what_is_asked(query: str, text: str) -> bool:
    """Whether ``text`` lacks what ``query`` asks for in so many words: clock times, how long, the
    shop's contacts, or a price asked as one ("how much", "cost", "price"); not one a fee's or a
    fare's name only may ask ("I was given a penalty fare: how do I challenge it?").

    >>> lacks_what_is_asked("What number do I ring?", "Caps range from £4.20.")
    True
    >>> lacks_what_is_asked("I got a penalty fare. How do I challenge it?", "Appeal within 21 days.")
    False
    """
    return not gives_what_is_asked(_NAMES_A_PRICE.sub("", query), text)


def asks_for_no_line(message: str) -> bool:
    """Whether a question for the shop's contacts asks for none in particular: "what's your phone
    number?", not "What number do I call if I break down?".

    >>> asks_for_no_line("what's your phone number?"), asks_for_no_line("What number do I call if I break down?")
    (True, False)
    """
    return word_set(message) <= _ANY_CONTACT


def asks_for_contact(message: str) -> set[str]:
    """Which of the shop's phone number, e-mail address and street address (:func:`.masking.contact_kinds`)
    ``message`` asks for: ``{"phone"}``, ``{"email"}``, ``{"address"}``, both of the first two,
    or none.

    >>> [sorted(asks_for_contact(m)) for m in ("what's your phone number?", "how do I get in touch?",
    ...                                        "how do I change my phone number?", "can I book a phone booth?",
    ...                                        "where is the Quayside site?", "where is my order?",
    ...                                        "how do I change the phone number on my profile?",
    ...                                        "What number do I call if I break down?")]
    [['phone'], ['email', 'phone'], [], [], ['address'], [], [], ['phone']]
    """
    if _CHANGES.search(message):
        return set()
    kinds = {kind for kind, asks in _ASKS_FOR.items() if asks.search(message)}
    return {"phone", "email"} | (kinds & {"address"}) if "either" in kinds else kinds
