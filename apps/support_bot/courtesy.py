"""Whole messages that are courtesy, not questions ("thanks for your help", "hi, how are you?",
"no, that's all"): greeted or thanked back (:func:`pleasantry_reply`), never handed off."""

from __future__ import annotations

import re

# Whole messages that are courtesy, not questions, are greeted or thanked back, never handed off:
# every word one of these, at least one of them not filler. subtle:
# only a short list of whole phrases counted before, and "thanks for your help", "awesome,
# thanks" or "got it, thanks" were handed off as unknown questions, silencing the bot
_GREETINGS = frozenset("hi hello hey hiya howdy morning afternoon evening how_are_you".split())
_THANKS = frozenset("thanks thank thx thanx thnx ty ta tysm tyvm thankyou cheers appreciate appreciated".split())
_BYES = frozenset("bye goodbye cya thats_all".split())
_ACKS = frozenset("ok okay k kk great perfect awesome cool nice brilliant brill excellent wonderful lovely fine "
                  "sweet sorted understood noted alright answers answered helps helped helpful got_it".split())
_COURTESY_FILLER = frozenset("good there so very much a lot many you u your for the that it all is was that's "
                             "thats everything again really mate guys right sounds super kind of help no nope "
                             "yes yeah yep i i'll will do nothing else needed wanted to know now one stuff lol "
                             "haha oh ah then today doing".split())
COURTESY_WORDS = _GREETINGS | _THANKS | _BYES | _ACKS | _COURTESY_FILLER
_PHRASES = {"that's all": "thats_all", "thats all": "thats_all", "that is all": "thats_all", "got it": "got_it",
            "how are you": "how_are_you", "how are u": "how_are_you", "how r u": "how_are_you",
            "how's it going": "how_are_you", "hows it going": "how_are_you"}
_QUESTION_OPENERS = frozenset("is are was were did does do can could will would what how why where when who".split())
COURTESY_REPLIES = {"greeting": "Hello! What can I help you with?",
                     "how_are_you": "I'm well, thanks for asking! What can I help you with?",
                     "bye": "Goodbye, and thanks for getting in touch!",
                     "thanks": "You're welcome! Is there anything else I can help with?",
                     "ack": "Good. Is there anything else I can help with?"}
# a thanks or goodbye while a colleague has the conversation: said back before the waiting text
WAITING_COURTESY = {COURTESY_REPLIES["thanks"]: "You're welcome!", COURTESY_REPLIES["bye"]: COURTESY_REPLIES["bye"]}


def pleasantry_reply(message: str) -> str | None:
    """The reply to a message that is only a greeting, thanks, an acknowledgement or goodbye,
    else None:

    >>> pleasantry_reply("Thanks for your help!"), pleasantry_reply("thanks, where is my order?")
    ("You're welcome! Is there anything else I can help with?", None)
    >>> pleasantry_reply("no, that’s all"), pleasantry_reply("thanks for nothing")
    ('Goodbye, and thanks for getting in touch!', None)
    """
    text = message.lower().replace("\u2019", "'")
    for phrase, token in _PHRASES.items():
        text = re.sub(rf"\b{phrase}\b", token, text)
    words = re.findall(r"[a-z_]+(?:'[a-z]+)?", text)
    anchors = set(words) - _COURTESY_FILLER  # what the courtesy is: "help", "no", "good" alone are none
    if not anchors or not anchors <= COURTESY_WORDS or words[0] in _QUESTION_OPENERS \
            or ("?" in message and _QUESTION_OPENERS & set(words)):
        return None  # "is that all?", "is it sorted", "ok so is it sorted now?"
    if ("nothing" in words and "else" not in words) or re.search(r"\bno[ -]?one\b|\bnobody\b", text):
        return None  # "thanks for nothing", "no one answered": complaints
    if anchors & _BYES or (words[0] in ("no", "nope") and anchors & _THANKS):
        return COURTESY_REPLIES["bye"]  # "thanks, bye", "no thanks", "no, that's all"
    if "how_are_you" in words:  # "hi, how are you today?": asked by a customer, not a question for the shop
        return COURTESY_REPLIES["how_are_you"]
    if words[0] in _GREETINGS or words[:2] in (["good", "morning"], ["good", "afternoon"], ["good", "evening"]):
        return COURTESY_REPLIES["greeting"]
    return COURTESY_REPLIES["thanks" if anchors & _THANKS else "ack"]
