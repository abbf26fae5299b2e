"""Which language a text is in: short foreign headlines are told, English names with accents are not."""

from __future__ import annotations

import pytest

from shared.language import language


@pytest.mark.parametrize(("text", "expected"), [
    ("Wie lange dauert die Lieferung?", "German"),
    ("Siemens erhöht Prognose", "German"),  # no function word: its letters tell (it had passed as English)
    ("Ölpreis fällt", "German"),
    ("Petrobras aumenta produção", "Portuguese"),
    ("Müller shares slump", None),  # a capitalised word is a name, whatever its letters
    ("Nestlé profits rise", None),
    ("Euro zone façade cracks", None),  # an English word with a letter of French
    ("jalapeño prices soar", None),  # and English's loanwords
    ("Siemens übertrifft Erwartungen", "German"),  # "ü" is no capital: "Siemens übertrifft" is no name
    ("Der Spiegel's über-cautious take is wrong about the market", "English"),  # English words: English
])
def test_language_of_a_short_text(text: str, expected: str | None) -> None:
    assert language(text) == expected
