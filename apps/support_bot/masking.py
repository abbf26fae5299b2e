"""Masking personal data before anything is stored: e-mails, phone, card (and security code)
and account numbers (sort codes too), national and tax identity numbers, and passwords and API
keys.

>>> mask_pii("Mail jo@x.org or call +44 20 7946 0958, card 4111 1111 1111 1111")
'Mail [EMAIL] or call [PHONE], card [CARD]'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

# a quoted local part ("jo doe"@x.org) and "localhost" are addresses too; other dotless hosts
# are not ("meet me@home later", "2@5 for bundles"); "jo.doe @ gmail.com" and
# "jo(at)example.com" are, when the host ends in letters ("3 @ 5.99" is a price). subtle: a
# local part starts where a run of its characters does, or a long word took quadratic time
_EMAIL = re.compile(r"(?:\"[^\"\n]{1,64}\"|(?<![\w.+%-])[\w.+%-]+)(?:@(?:[\w-]+(?:\.[\w-]+)+|localhost\b)"
                    r"|(?:\s+@\s+|\s*[(\[]at[)\]]\s*)[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}\b)", re.IGNORECASE)
# Spoken addresses: "john dot smith at acme dot com", or "jo at gmail dot com" with a mail
# provider's host; "it at amazon dot com" names a shop, not an address, and stays. subtle: a
# local part starts where its chain of words does, or "a dot a dot ..." took quadratic time
_PROVIDERS = r"(?:gmail|googlemail|yahoo|hotmail|outlook|icloud|aol|proton(?:mail)?|gmx|live|msn)"
_AT, _DOT = r"\s+(?:at|\(at\)|\[at\])\s+", r"(?:\s+dot\s+|\.)"
_SPOKEN_EMAIL = re.compile(
    rf"(?<![\w+-])(?<!\bdot\s)(?<!\bunderscore\s)[\w+-]+(?:\s+(?:dot|underscore)\s+[\w+-]+)+{_AT}[\w-]+(?:{_DOT}[\w-]+)*\s+dot\s+[^\W\d_]{{2,}}\b"
    rf"|(?<![\w.+-])[\w.+-]+{_AT}{_PROVIDERS}(?:{_DOT}[^\W\d_]{{2,}})+\b", re.IGNORECASE)
# IBAN as typed: any case, letters allowed in the bank part (``gb82 west 1234 ...``), from a
# country that issues them; subtle: any two letters took a parcel's tracking code
# ("JD014600006281234567") for one, and a last group of letters ate the next word ("... pls")
_IBAN_COUNTRIES = ("AD AE AL AT AZ BA BE BG BH BI BR BY CH CR CY CZ DE DJ DK DO EE EG ES FI FK FO FR GB GE GI GL "
                   "GR GT HR HU IE IL IQ IS IT JO KW KZ LB LC LI LT LU LV LY MC MD ME MK MN MR MT MU NI NL NO "
                   "OM PK PL PS PT QA RO RS RU SA SC SD SE SI SK SM SO ST SV TL TN TR UA VA VG XK YE").split()
_IBAN = re.compile(rf"\b(?:{'|'.join(_IBAN_COUNTRIES)})\d{{2}}(?:[ -]?[A-Z0-9]{{4}}){{2,7}}"
                   r"(?:[ -]?(?=[A-Z]{0,2}\d)[A-Z0-9]{1,3})?\b", re.IGNORECASE)
# 13-19 digits, optionally grouped by spaces, dashes, dots, slashes, underscores, commas or
# pipes: card numbers; subtle: digits, not word boundaries, end them ("visa4111...", "...1111exp")
_CARD = re.compile(r"(?<!\d)\d(?:[ .,/_|-]?\d){12,18}(?!\d)")
# A card's fours joined by spaced dashes or dots ("4111 - 1111 - 1111 - 1111"): fours only, or
# the rule would run two phones joined by " - " together and leave the second's tail
_SPACED_CARD = re.compile(r"(?<![\d.-])\d{4}(?: ?[.-] ?\d{4}){3}(?: ?[.-] ?\d{1,3})?(?![\d])")
# Phone numbers: an optional +country code, then 7-15 digits with separators ("...4567x89": an
# extension follows)
_PHONE = re.compile(r"(?<![\w(+#])(?:\+|\()?\d[\d ()./-]{6,17}\d(?![\d_]|(?![xX])[^\W\d])")
# a reference's capitals before its dash ("INV-2024-0001"); not "TEL-..." nor "mob-98765..."
_ID_PREFIX = re.compile(r"\b(?-i:[A-Z]{2,})-$")
# a street address as shops write them: "14 Ashford Road", "5 high street", "Harbour Street 12",
# "Hauptstraße 12", a UK postcode ("AB3 9XY") or a US state's ZIP code after its town (", MA 02139");
# not "Order ID 12345". A street named without a number ("Mill Lane") is none
_STREETS = (r"(?:Road|Rd|Street|St|Lane|Avenue|Ave|Way|Drive|Place|Square|Row|Close|Court|Crescent|Terrace|"
            r"Parade|Quay|Hill|Boulevard|Blvd|Highway|Strasse|Straße|Gasse|Weg|Platz|road|street|lane|avenue)")
_STATES = ("AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|"
           "NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY")
_ADDRESS = re.compile(rf"\b\d+[A-Za-z]?,? (?:[A-Za-z][a-z]+ ){{1,3}}{_STREETS}\b|"
                      rf"\b(?:[A-Z][a-z]+ ){{1,3}}{_STREETS} \d+\b|"
                      r"\b[A-ZÄÖÜ][a-zäöüß]+(?:straße|strasse|gasse|weg|platz|allee) \d+\b|"
                      rf"\b[A-Z]{{1,2}}\d[A-Z\d]? \d[A-Z]{{2}}\b|,\s*(?:{_STATES}) \d{{5}}(?:-\d{{4}})?\b")
# Two phones joined by a bare slash ("555-123-4567/555-987-6543"): each side masked on its own;
# one side alone is too short for the phone rule's reach. "030/1234567" is one phone.
_PHONE_PAIR = re.compile(r"(?<![\w(+#/])((?:\+|\()?\d[\d ().-]{5,16}\d)/((?:\+|\()?\d[\d ().-]{5,16}\d)"
                         r"(?![\d_/]|(?![xX])[^\W\d])")
# Not phones: an IP address; after "#", an order or ticket number
_IP = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
# Not personal data, by what names them: a valid ISBN after "ISBN" (as publishers group it, it
# has a card's or a phone's shape), a US ZIP+4 after "zip", "postal code" or a city's state
_ISBN_BEFORE = re.compile(r"\bISBN(?:-?1[03])?[-:]?\s*$", re.IGNORECASE)
_STATES = ("AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV "
           "NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR").split()
_ZIP_BEFORE = re.compile(rf"(?:(?i:\b(?:zip(?:\s*code)?|postal\s*code|post\s*code|postcode)(?:\s+(?:is|was))?)"
                         rf"\s*[:#]?|\w,\s*(?:{'|'.join(_STATES)}))\s*$")
_ZIP4 = re.compile(r"^\d{5}-\d{4}$")
# An order, parcel or ticket number named as such, right before it ("my order 12345678 hasn't
# arrived", "tracking no. 100234567890"): the agent needs it. subtle: every run of 8 digits or more
# was masked as a phone, and agents could not look the order up. Not one that starts with 0 (a
# phone's trunk prefix), nor one near words for calling ("call me about the order 0770...")
_REFERENCE_BEFORE = re.compile(r"\b(?:order|tracking|parcel|shipment|consignment|invoice|ticket)"
                               r"(?:\s*(?:number|no\.?|nr\.?|id|#)(?:\s+(?:is|was))?)?\s*[:#]?\s*$",
                               re.IGNORECASE)
_CALLING = re.compile(r"\b(?:call|phone|mobile|cell|ring|text|whatsapp|sms|reach|contact|tel)", re.IGNORECASE)
# A date, or a range of dates (the phone rule may cut the second short: "01/05/2024-31/05"),
# or of years spaced like one ("2019 - 2023"). "2019-2023" or "20240501" could be a Danish
# mobile, and is masked.
_DAY = r"(?:\d{4}-\d{1,2}-\d{1,2}|\d{4}\.\d{1,2}\.\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4})"
_D, _M = r"(?:0?[1-9]|[12]\d|3[01])", r"(?:0?[1-9]|1[0-2])"  # "06-12-34-56-78" is a French phone
# A range of full dates, or a date and its time ("2024-05-01 12:30"): the phone and card rules
# take their first digits for a number of their own
_FULL_DAY = (r"(?:(?:19|20)\d\d-\d{1,2}-\d{1,2}|(?:19|20)\d\d\.\d{1,2}\.\d{1,2}"
             r"|\d{1,2}[./-]\d{1,2}[./-](?:19|20)\d\d)")  # a year of this era: "06-12-3456" is a phone
_DATE_START = re.compile(rf"{_FULL_DAY}(?:\s*[-/]\s*{_FULL_DAY}(?!\d)|[ T]\d{{1,2}}:\d\d)")
_DATE = re.compile(rf"^(?:{_DAY}(?:\s*[-/]\s*(?:{_DAY}|{_D}[./-]{_M}[./-]?|{_M}[./-]{_D}[./-]?))?"
                   r"|(?:19|20)\d\d\s+-\s+(?:19|20)\d\d)$")
# Account numbers named as such ("account 12345678", "acct no. 1234-5678", "account AB 12345678",
# "account ab12345678", "account number is 55501234" (six digits together after "is": it read
# [PHONE]): letters apart from the digits only in capitals, or "account has 12 500 points" and
# "account is 12 500 points short" would be one).
_ACCOUNT = re.compile(
    r"\b(account|acct\.?|a/c)((?:\s*(?:number|no\.?|nr\.?|#))?\s*(?::\s*)?(?:(?:is|was)\s+(?=\d{6}))?)"
    r"((?:(?-i:[A-Z]{1,4})[ -]?(?=\d)|[A-Z]{1,4}-?(?=\d))?\d[\d \u2010-\u2014\u2212-]{4,}\d)",
    re.IGNORECASE,
)
# Look-alikes read as ASCII first: spaces (no-break, thin) and full-width "@" everywhere,
# zero-width spaces dropped everywhere; dashes and joiners only in a run of digits they join twice or more (a card, a
# phone), so a range ("2019\u20132023"), a dash between words, an emoji's joiner or Persian's
# non-joiner stays as written
_SPACES = str.maketrans({"\u00a0": " ", "\u2007": " ", "\u2009": " ", "\u202f": " ",
                         "\u200b": "", "\u2060": "", "\ufeff": "", "\uff20": "@", "\ufe6b": "@"})
_DASHES = str.maketrans({"\u200c": "", "\u200d": "", "\u2010": "-", "\u2011": "-", "\u2012": "-",
                         "\u2013": "-", "\u2014": "-", "\u2212": "-"})
_DASHLIKE = "\u200c\u200d\u2010-\u2014\u2212"
_DASH_RUN = re.compile(rf"\d(?:[ {_DASHLIKE}]*\d)+")

# Credentials: what follows a password, PIN, API key or token named as such, when it looks like
# one (a digit or a symbol in it, or quoted): "my password is Hunter2!x", not "my password is
# wrong"; and API keys anywhere, by the shapes their issuers give them ("sk-...", "sk_live_...",
# "ghp_...", "xoxb-...", "AKIA...", a JWT). subtle: "My password is Hunter2!secret" was stored
# whole, in the turn, the ticket and the gaps list, and the ticket's reason read "names Hunter"
# A review's: "my password's not working", "doesn't work", "password-reset", "the 'PIN' box" and
# a quoted "Forgot password" button name no secret: a space, ":" or "=" must come between the
# word and the value, a quoted value has no space in it, and a contraction's apostrophe or a
# hyphen is no symbol
_SECRET_SAID = re.compile(
    r"\b((?:password|passcode|passwd|pwd|pin|api[\s_-]?key|access\s+key|secret(?:\s+key)?|token)\b"
    r"(?:\s+(?:number|code))?(?:\s+for\s+(?:my|the|your)\s+\w+)?(?:\s+(?:is|was|to))?(?:\s*[:=]\s*|\s+))"
    r"(\"[^\"\s]{1,64}\"|'[^'\s]{1,64}'|\S+)", re.IGNORECASE)
_SECRET_SYMBOL = re.compile(r"\d|[!@#$%^&*+=?~|<>/\\{}\[\]_]")
_API_KEY = re.compile(r"\b(?:sk-(?:proj-)?[A-Za-z0-9_-]{20,}|[a-z]{2,8}_(?:live|test)_[A-Za-z0-9]{10,}"
                      r"|gh[pousr]_[A-Za-z0-9]{30,}|xox[abprs]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}"
                      r"|eyJ[\w-]{10,}\.[\w-]{10,}\.[\w-]{10,})(?![\w-])")


# A bank's sort code named as such ("sort code 20-00-00"): alone its shape is a date's. A UK
# National Insurance number anywhere by its shape ("QQ 12 34 56 C"), and a tax or social-security
# reference named as such ("UTR 1234567890": it read [PHONE], and was offered to the agent as the
# customer's number to call back)
# subtle: no two runs of spaces side by side in these, or "tin" and 1,000 spaces took seconds
_SORT_CODE = re.compile(r"\b(sort ?code)\b((?:\s+(?:is|was))?\s*(?::\s*)?)(\d{2}[ -]?\d{2}[ -]?\d{2})(?!\d)",
                        re.IGNORECASE)
_NI_NUMBER = re.compile(r"\b[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")
# named, the number is read in the shapes such numbers take: an NI number (any case), a US SSN
# (3-2-4), a UTR (5 and 5), else one run of digits, so a phone after it stays the agent's
_TAX_ID = re.compile(r"\b(utr|unique tax(?:payer)? reference|tax (?:reference|ref\.?|id|number|code)|tin|ssn"
                     r"|social security(?: number)?|national insurance(?: number)?|ni number|nino)\b"
                     r"((?:\s+(?:number|no\.?))?(?:\s+(?:is|was))?\s*(?::\s*)?)"
                     r"([a-z]{2} ?\d{2} ?\d{2} ?\d{2} ?[a-d]?|\d{3}-\d{2}-\d{4}|\d{5} ?\d{5}|\d{6,12})\b",
                     re.IGNORECASE)

_KEPT = 0xF0000  # private-use code points: where mask_pii sets the shop's own accounts aside
_PRIVATE = re.compile("[\U000F0000-\U000FFFFD]")
# what mask_pii puts in: no word of the customer's ("[SECRET]" read as an unknown subject, "secret")
PLACEHOLDER = re.compile(r"\[(?:EMAIL|PHONE|CARD|CVV|ACCOUNT|NUMBER|SECRET|ID)\]")


def _mask_secret(match: re.Match[str]) -> str:
    said, value = match.group(1), match.group(2)
    # subtle: a trailing "!" is judged as a full stop but masked as the secret's: "Hunter2!"
    # kept its "!" in the record, and "my password is wrong!" names none
    core, judged = value.rstrip(".,;?)"), value.rstrip(".,;!?)")
    quoted = value[:1] in "\"'" and len(value) > 2
    if quoted or (len(judged) >= 4 and _SECRET_SYMBOL.search(judged)):
        return f"{said}[SECRET]{'' if quoted else value[len(core):]}"
    return match.group(0)


# Card security codes named as such ("cvv 123", "CVC: 1234", "security code 123").
_CVV = re.compile(r"\b(cvv2?|cvc2?|cv2|cvn|csc|cid|security code|card verification code)"
                  r"((?:\s*(?:code|no\.?|number|#))?(?:'s)?(?:\s*(?:is|was))?\s*(?:[:=-]\s*)?)(\d{3,4})\b",
                  re.IGNORECASE)


def _mask_iban(match: re.Match[str]) -> str:
    """An IBAN's bank part holds at least 8 digits in practice; subtle: without that check,
    matching any case would make ``"no12 from your shop"`` an account number."""
    found = match.group(0)
    return "[ACCOUNT]" if sum(ch.isdigit() for ch in found[4:]) >= 8 else found


def _is_card(digits: str) -> bool:
    """Luhn check, so order numbers of the same length are not all called cards."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _read_dashes(match: re.Match[str]) -> str:
    run = match.group(0)
    return run.translate(_DASHES) if sum(c in _DASHES for c in map(ord, run)) >= 2 else run


def _is_isbn(found: str, before: str) -> bool:
    """10 or 13 digits (an ISBN-10 may end in X) with a valid check digit, after "ISBN", and
    grouped, if at all, as ISBNs are; "ISBN-10 0-306-..." leaves the "10 " to the number
    rules, which is dropped here."""
    if not _ISBN_BEFORE.search(before):
        return False
    if before.endswith("-") and found[:3] in ("10 ", "13 "):
        found = found[3:]
    if re.search(r"[^\dXx -]", found) or re.search(r"[ -][\dXx]{2,}$", found):
        return False  # grouped, an ISBN ends in its lone check digit; "555 123 4567" is a phone
    digits = [10 if c in "Xx" else int(c) for c in found if c.isdigit() or c in "Xx"]
    if len(digits) == 10 and 10 not in digits[:9]:
        return sum((10 - i) * d for i, d in enumerate(digits)) % 11 == 0
    if len(digits) == 13 and 10 not in digits:
        return sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10 == 0
    return False


def _named_as_no_pii(match: re.Match[str]) -> bool:
    """A valid ISBN after "ISBN", or a ZIP+4 after "zip" or a city's state ("Springfield, IL
    62704-1234"); a bare "62704-1234" could be a Brazilian mobile, and is masked."""
    found, end = match.group(0), match.end()
    before = match.string[max(0, match.start() - 24):match.start()]  # bounded: no long scan
    check_x = re.match(r"[- ]?[Xx]\b", match.string[end:end + 3])  # the rules stop at digits
    return (_is_isbn(found + (check_x.group(0) if check_x else ""), before)
            or bool(_ZIP4.match(found) and _ZIP_BEFORE.search(before)))


def _named_as_reference(match: re.Match[str]) -> bool:
    """Digits without separators right after "order", "tracking number", "ticket"...: a reference;
    not with words for calling around it ("order number is 4155552671, call me")."""
    found, text = match.group(0), match.string
    before, after = text[max(0, match.start() - 60):match.start()], text[match.end():match.end() + 40]  # bounded
    return (found.isdigit() and not found.startswith("0") and bool(_REFERENCE_BEFORE.search(before))
            and not _CALLING.search(before) and not _CALLING.search(after))


def _mask_card(match: re.Match[str]) -> str:
    """A card (Luhn), else a number masked as one ("[NUMBER]": a mistyped card is still one).

    Grouped by ``/,_|`` it is a card only in fours ("4111/1111/1111/1111") or as the first group
    ("4111111111111111/12/26": the card, then its expiry); otherwise a date or a list of ids,
    kept. Glued to a word before it, it is a reference ("INV2024050112349"), kept, unless the
    word names a card ("visa4111...", "cardno4111..."); glued to one after it ("...1111exp"),
    it is a card when Luhn says so, else kept ("20240501123456ABC")."""
    found, start, end, text = match.group(0), match.start(), match.end(), match.string
    if _named_as_no_pii(match) or _DATE_START.match(text, start):
        return found
    parts = re.split(r"[/,_|]", found)
    if len(parts) > 1:
        head = re.sub(r"\D", "", parts[0])
        if 13 <= len(head) <= 19 and _is_card(head):
            return "[CARD]" + found[len(parts[0]):]
        in_fours = all(len(re.sub(r"\D", "", p)) == 4 for p in parts[:-1])
        return "[CARD]" if in_fours and _is_card(re.sub(r"\D", "", found)) else found
    card = _is_card(re.sub(r"\D", "", found))
    word = re.search(r"[^\W\d]*_?$", text[max(0, start - 24):start]).group(0)  # bounded: no long scan
    if word and not re.search(r"(card|cc|visa|amex|mastercard|discover|no|nr|number)_?$", word, re.IGNORECASE):
        return found
    if not word and end < len(text) and (text[end].isalpha() or text[end] == "_"):
        return "[CARD]" if card else found
    return "[CARD]" if card else "[NUMBER]"


def _mask_spaced_card(match: re.Match[str]) -> str:
    """Spaced fours that pass Luhn; unspaced ones are the card rule's (it knows references)."""
    found = match.group(0)
    return "[CARD]" if " " in found and _is_card(re.sub(r"\D", "", found)) else found


def _mask_phone(match: re.Match[str]) -> str:
    found = match.group(0)
    digits = re.sub(r"\D", "", found)
    prefix = _ID_PREFIX.search(match.string[max(0, match.start() - 12):match.start()])
    if (_DATE.match(found) or _DATE_START.match(match.string, match.start()) or _IP.match(found)
            or not 7 <= len(digits) <= 15 or _named_as_no_pii(match) or _named_as_reference(match)
            or (prefix and not _CALLING.match(prefix.group(0)))):
        return found
    return "[PHONE]"


def _mask_phone_pair(match: re.Match[str]) -> str:
    sides = [_PHONE.fullmatch(side) for side in match.groups()]
    if all(side and _mask_phone(side) == "[PHONE]" for side in sides):
        return "[PHONE]/[PHONE]"
    return match.group(0)  # a date or a short number on one side: the phone rule reads it whole


def shop_contacts(texts: Iterable[str]) -> frozenset[str]:
    """The e-mail addresses, phone numbers and bank accounts the shop's own texts give (its help
    desk's, the account bills are paid to): no personal data, kept as written where the bot
    quotes them. subtle: a pay-your-bill template was stored "account [ACCOUNT]", and a customer
    who reloaded the chat lost the number to pay to."""
    found = set()
    for text in texts:
        found |= {m.group(0) for m in _EMAIL.finditer(text)}
        found |= {m.group(0) for m in _PHONE.finditer(text) if _mask_phone(m) == "[PHONE]"}
        found |= {m.group(3) for m in (*_ACCOUNT.finditer(text), *_SORT_CODE.finditer(text))}
        found |= {m.group(0) for m in _IBAN.finditer(text) if _mask_iban(m) != m.group(0)}
    return frozenset(found)


def contact_kinds(texts: Iterable[str]) -> set[str]:
    """Which of an e-mail address (``"email"``), a phone number (``"phone"``) and a street
    address (``"address"``) the shop's own texts give (:func:`shop_contacts`; their accounts and
    IBANs are none).

    >>> sorted(contact_kinds(["Northfield is at 14 Ashford Road, NF3 8QP. Call 0161 555 0142."]))
    ['address', 'phone']
    """
    kinds = set()
    for text in texts:
        if _EMAIL.search(text):
            kinds.add("email")
        if any(_mask_phone(m) == "[PHONE]" for m in _PHONE.finditer(text)):
            kinds.add("phone")
        if _ADDRESS.search(text):
            kinds.add("address")
    return kinds


def mask_pii(text: str, keep: frozenset[str] = frozenset(), hidden: list[str] | None = None) -> str:
    """Replace passwords and API keys, e-mails, IBAN/account, card and phone numbers by
    placeholders; ``keep``: the
    shop's own contacts and accounts (:func:`shop_contacts`), left as they are; ``hidden``, when given,
    gets each e-mail and phone number replaced, as written (:func:`contacts`).

    subtle: a card number typed with no-break spaces or en dashes (as phones and word
    processors insert them) was stored whole; beside digits those characters are read as
    ASCII first.
    """
    def hide(found: str, masked: str) -> str:
        if hidden is not None and masked != found and found not in keep:
            hidden.append(found.strip())
        return found if found in keep else masked

    # the shop's own numbers, whole, stand aside as private-use characters no pattern reads (none
    # where the text has such characters); its e-mails, and its phones where a word is glued on
    # ("Tel.0800 ..."), are kept as matched (hide)
    kept = [] if _PRIVATE.search(text) else \
        sorted((k for k in keep if k in text and not _EMAIL.fullmatch(k)), key=len, reverse=True)
    if kept:
        whole = re.compile(r"(?<![\w.+@%-])(" + "|".join(map(re.escape, kept)) + r")(?![\w@]|[.-]\w)")
        text = whole.sub(lambda m: chr(_KEPT + kept.index(m.group(1))), text)
    text = _API_KEY.sub("[SECRET]", _SECRET_SAID.sub(_mask_secret, _as_ascii(text)))
    text = _EMAIL.sub(lambda m: hide(m.group(0), "[EMAIL]"), text)
    text = _SPOKEN_EMAIL.sub(lambda m: hide(m.group(0), "[EMAIL]"), text)
    text = _IBAN.sub(_mask_iban, text)
    text = _ACCOUNT.sub(lambda m: f"{m.group(1)}{m.group(2)}[ACCOUNT]", text)
    text = _SORT_CODE.sub(lambda m: f"{m.group(1)}{m.group(2)}[ACCOUNT]", text)
    text = _TAX_ID.sub(lambda m: f"{m.group(1)}{m.group(2)}[ID]", _NI_NUMBER.sub("[ID]", text))
    text = _cards_masked(text, _mask_card)
    text = _PHONE_PAIR.sub(lambda m: hide(m.group(0), _mask_phone_pair(m)), text)
    text = _PHONE.sub(lambda m: hide(m.group(0), _mask_phone(m)), text)
    for i, value in enumerate(kept):
        text = text.replace(chr(_KEPT + i), value)
    return text


def contacts(text: str, keep: frozenset[str] = frozenset()) -> list[str]:
    """The e-mail addresses, then the phone numbers, of a customer's message as written: exactly
    what :func:`mask_pii` hides (never an account, card, order number or date), which an agent
    needs to call or write back; ``keep``: the shop's own, which are no customer's.

    >>> contacts("Please call me back on +44 7700 900123 or mail jo@example.com, account 12345678")
    ['jo@example.com', '+44 7700 900123']
    """
    hidden: list[str] = []
    mask_pii(text, keep, hidden)
    return list(dict.fromkeys(hidden))


def mask_payment(text: str) -> str:
    """Only card numbers (Luhn) and security codes of ``text`` masked: an agent's reply keeps
    the shop's e-mail, phone, IBAN and the order and tracking numbers the customer needs, and
    loses a card number pasted from the customer's account."""
    return _cards_masked(_as_ascii(text), lambda m: masked if (masked := _mask_card(m)).startswith("[CARD]")
                         else m.group(0))


def _as_ascii(text: str) -> str:
    """No-break spaces and en dashes beside digits read as ASCII (see :func:`mask_pii`)."""
    return _DASH_RUN.sub(_read_dashes, text.translate(_SPACES))


def _cards_masked(text: str, card: Callable[[re.Match[str]], str]) -> str:
    """Security codes and spaced cards masked, then each unspaced card-length number as ``card``
    reads it (:func:`_mask_card`, or only the Luhn-valid ones for an agent's reply)."""
    text = _CVV.sub(lambda m: f"{m.group(1)}{m.group(2)}[CVV]", text)
    return _CARD.sub(card, _SPACED_CARD.sub(_mask_spaced_card, text))
