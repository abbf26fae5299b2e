"""Text shown through the dashboards' Markdown: literal where it must be, formatted where kept."""

from __future__ import annotations

import pytest

from shared.ui import markdown_text


@pytest.mark.parametrize(("text", "shown"), [
    ("*Cheap* eats for $5", "\\*Cheap\\* eats for \\$5"),
])
def test_plain_text_reads_literally(text: str, shown: str) -> None:
    assert markdown_text(text) == shown


@pytest.mark.parametrize(("text", "shown"), [
    ("**Gift wrapping** costs $4.99, 3~5 days", "**Gift wrapping** costs \\$4.99, 3\\~5 days"),
    ("See [our shop](https://x.test) ![logo](https://t.test/p.png)",
     "See our shop (https://x.test) logo (https://t.test/p.png)"),
    ("[the guide][g]\n\n[g]: https://t.test", "\\[the guide\\]\\[g\\]\n\n\\[g\\]: https://t.test"),
    ("<https://t.test>", "\\<https://t.test>"),
    ("> Note: keep the receipt", "> Note: keep the receipt"),  # a quote stays a quote
    ("Type \\[brackets\\] and \\$", "Type \\[brackets\\] and \\$"),  # escaped by the author
    ("a\\\\[x][g]", "a\\\\\\[x\\]\\[g\\]"),  # an escaped backslash does not escape the bracket
])
def test_kb_markdown_keeps_formatting_but_forms_no_link_image_or_latex(text: str, shown: str) -> None:
    assert markdown_text(text, keep_formatting=True) == shown
