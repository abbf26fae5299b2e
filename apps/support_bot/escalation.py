"""What a person must answer, whatever the bot could say: a customer asking for a person, and a
complaint or a payment dispute. Both are handed off unread, with a reason of their own: neither
is a gap in the knowledge base, and the bot did not judge them (no confidence to show)."""

from __future__ import annotations

import re

# a customer asking for a person is handed one, whatever the question ("I want a human"); a
# question about people ("do I need a person present at delivery?", "can my son talk to the
# staff about sizing?", "I need a person to assemble my bike") is no such request
_WHO = (r"(?:an?\s+|the\s+|your\s+|some\s+|one\s+of\s+your\s+|a\s+member\s+of\s+)?(?:(?:real|live|actual)\s+)?"
        r"(?:someone|somebody|person|human(?:\s+being)?|agent|manager|supervisor|boss|operator|staff|representative|"
        r"colleague|(?:customer\s+)?(?:service|support)(?:\s+team)?)\b"
        r"(?!\s+(?:in|at)\s+(?:the\s+|your\s+|a\s+)?(?:store|shop|workshop)\b)")
_SOFTLY = r"(?:(?:just|really|please|only|actually)\s+)*"
_ON_PHONE = r"\s+(?:on|at)\s+(?:[+(\d]|\[phone\])"  # "call me back on 07700 ...", masked or not
_PERSON = re.compile(
    rf"(?:\b(?<!do\s)i\s+{_SOFTLY}(?:want|need|wanna|demand)(?:\s+to)?\s|"
    rf"\bi(?:\s+would|'?d)\s+{_SOFTLY}(?:like|prefer|love)\s+to\s|\blet\s+me\s|"
    rf"\b(?:can|could|may)\s+i\s+{_SOFTLY}|^\W*{_SOFTLY})\s*(?:talk|speak|chat)\s+(?:to|with)\s+" + _WHO
    + r"|\b(?:connect|transfer|put)\s+(?:me\s+)?(?:to|with|through\s+to)\s+" + _WHO
    + rf"|(?:\bi\s+{_SOFTLY}(?:want|wish|need)\s+to\s+|\bi(?:\s+would|'?d)\s+like\s+to\s+|\blet\s+me\s+|^\W*)"
    r"complain\s+to\s+" + _WHO
    + r"|\bis\s+there\s+(?:someone|somebody|anyone|anybody)\s+i\s+(?:can|could)\s+(?:talk|speak|chat)\s+(?:to|with)\b"
    + rf"|(?:\b(?<!do\s)i\s+{_SOFTLY}(?:want|need)|\b(?:can|could|may)\s+i\s+{_SOFTLY}(?:get|have)|\b(?:get|give)\s+me)"
    r"\s+(?:an?\s+|the\s+|your\s+)?(?:(?:real|live)\s+)?(?:human|person|agent|representative|manager|supervisor)(?![-\w'])"
    r"(?!\s+(?:to|help|who|that|for)\b)"
    r"|\b(?:can|could)\s+(?:someone|somebody|an?\s+agent|you)\s+(?:please\s+)?call\s+me(?:\s+back)?"
    r"(?:\W*$|\s*[?.!]|" + _ON_PHONE + ")"
    r"|\bcall-?back\b"
    r"|(?:^|[.!?,;]\s*|\bplease\s+)call\s+me(?:\s+back)?(?:" + _ON_PHONE + r"|\s*[.!?]?\s*$)"
    r"|^\W*(?:an?\s+|your\s+)?(?:(?:real|live)\s+)?(?:human|agent|operator|person|representative|manager|supervisor"
    r"|customer\s+(?:service|support)(?:\s+team)?|support\s+team)(?:\s+(?:please|pls|now))?\W*$", re.I)
PERSON_REASON = "asked for a person"  # a hand-off's reason: not a gap in the knowledge base
PERSON_TEXT = "I've passed you to a colleague (ticket #{ticket}). They will reply in this conversation."


def asks_for_person(message: str) -> bool:
    """Whether the customer asks to be put through to a person:

    >>> asks_for_person("that doesn't help, I want a human"), asks_for_person("a real person please")
    (True, True)
    >>> asks_for_person("Do I need a person present at delivery?")
    False
    """
    return bool(_PERSON.search(message.replace("\u2019", "'")))


# first-person claims, not questions about what could happen ("will I be charged twice if I
# order separately?", "can I return it if I'm not happy with it?", "I ripped off the label",
# "how do you protect my card from fraud?", "can my solicitor sign for it?")
_COMPLAINT = re.compile(
    r"\b(?:(?:was|were|been|got|get|you|they|you've|i've|have|has|^)\s*(?:\w+\s+)?(?:charged|billed)\s+"
    r"(?:\w+\s+){0,3}?(?:twice|two\s+times|double)|double[-\s]?(?:charged|billed)|(?:took|taken|charged)\s+"
    r"(?:my\s+)?(?:payment|money)\s+twice|charge-?backs?(?!\s+(?:policy|procedure|process))|"
    r"dispute\s+(?:the|this|a|my)\s+(?:charge|payment|transaction)|scam(?:med|mers?)?|"
    r"fraudulent|(?:is|was|it's|that's)\s+(?:a\s+|pure\s+|total\s+)?fraud|"
    r"(?:a|total|complete|what\s+a)\s+rip[-\s]?off|ripoff|ripped\s+(?:me|us)\s+off|"
    r"(?:call(?:ing)?|contact(?:ing)?|get|involve|speak\s+to|talk\s+to|hear\s+from)\s+(?:my|a|our)\s+"
    r"(?:lawyers?|solicitors?|attorney)|"
    r"(?:take|taking|start|starting)\s+legal\s+action(?!\s+against\s+(?:the|a|another)\b)|"
    r"(?:sue|suing)\s+you|(?:going\s+to|gonna|i'll|will)\s+sue|"
    r"tak(?:e|ing)\s+you\s+to\s+(?:court|small\s+claims)|"
    r"(?:i'm|i\s+am|we're|we\s+are)\s+(?:\w+\s+)?(?:not\s+happy|unhappy|dissatisfied|disappointed)\s+with|"
    r"(?:report(?:ing)?\s+you|go(?:ing)?|complain(?:ing)?)\s+to\s+(?:the\s+)?(?:trading\s+standards|ombudsman|"
    r"consumer\s+protection)|unacceptable|disgrac(?:e|eful)|disgust(?:ed|ing)|outrage(?:d|ous)|furious|livid|fed\s+up|"
    r"worst\s+(?:shop|store|company|service|experience|customer\s+(?:service|support))|"
    r"(?<!\bfor\s)complain(?:t|ts|ing|ed|s)?(?!s?\s+(?:procedure|policy|process|form|page|e-?mail|address|"
    r"department|team|line))|"
    r"(?:this\s+is|that's|absolutely|totally)\s+ridiculous|never\s+(?:again|(?:buying|ordering|shopping)\s+"
    r"(?:here|from\s+you)))\b", re.I)
COMPLAINT_REASON = "a complaint or dispute"  # a hand-off's reason: not a gap in the knowledge base either
COMPLAINT_TEXT = ("I'm sorry about this. I've passed it to a colleague (ticket #{ticket}), who will reply in this "
                  "conversation.")
# the hand-offs whose reason is the customer's own, with what the bot says: the rest it was unsure of
UNJUDGED = {PERSON_REASON: PERSON_TEXT, COMPLAINT_REASON: COMPLAINT_TEXT}


# a clause that asks what would happen: "what should I do if I was charged twice?", "what is the
# returns policy for unacceptable items?"
_WHAT_IF = re.compile(r"\b(?:if|whether|in\s+case|what\s+happens|policy)\b", re.I)
# a question about how complaints are dealt with: "How long do you take to deal with a complaint?",
# "what is the time limit for going to the ombudsman?", "do you accept complaints by e-mail?" (not
# "how do I complain?", "where can I lodge a complaint?" or "What is wrong with you, I want to complain")
_ABOUT_COMPLAINTS = re.compile(r"^\W*(?:(?:and|so|also|ok|okay)\W+)?(?:how\s+(?:long|soon|quickly)|"
                               r"(?:what\s+is|what's|is\s+there)\s+(?:the\s+|a\s+)?time\s+limit|"
                               r"do\s+you\s+(?:accept|take|handle|deal\s+with|reply\s+to|respond\s+to))\b", re.I)
_PROCESS = re.compile(r"complain|ombudsman|trading\s+standards|consumer\s+protection", re.I)


def complaint(message: str) -> str | None:
    """The words that make a message a complaint or a payment dispute, which a person answers,
    else None: a template or a passage told an angry customer how refunds work.

    subtle: "I was charged twice for my order, this is unacceptable!" was answered with the
    pick-up page, and "This is a scam, I want my money back or I call my lawyer" with the
    opening hours; adjectives about the goods ("terrible squeaky brakes") are no complaint, nor
    is a question about how complaints are dealt with (an audit's "How long do you take to deal
    with a complaint?" was handed off with "I'm sorry about this", its FAQ never read); asking how
    or where to make one still is (a person takes it).

    >>> complaint("I was charged twice, this is unacceptable!"), complaint("How do I fix squeaky brakes?")
    ('was charged twice', None)
    """
    text = message.replace("\u2019", "'")
    for found in _COMPLAINT.finditer(text):
        clause = re.split(r"[.!?;]", text[:found.start()])[-1]
        asks_about = _PROCESS.search(found.group(0)) and _ABOUT_COMPLAINTS.match(re.split(r",", clause)[-1]) \
            and re.match(r"[^.!?;]*\?", text[found.end():])
        if not _WHAT_IF.search(clause) and not asks_about:
            return found.group(0)
    return None
