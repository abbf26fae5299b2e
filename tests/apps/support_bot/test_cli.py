"""The ``verticals support`` commands, run in-process with typer's runner."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from apps.support_bot.cli import app

runner = CliRunner()


def _json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_kb_list_ask_and_remove(bot_home: Path) -> None:
    docs = _json(runner.invoke(app, ["kb", "list", "--json"]))["documents"]
    assert {"faq-how-do-i-return-an-item", "guides/gift-cards"} <= {d["id"] for d in docs}
    answer = _json(runner.invoke(app, ["ask", "How long are gift cards valid?", "--json"]))
    assert answer["kind"] in ("grounded", "template")
    assert "guides/gift-cards" in {c["doc_id"] for c in answer["citations"]}
    removed = _json(runner.invoke(app, ["kb", "remove", "guides/gift-cards", "--json"]))
    assert removed["removed_chunks"] >= 1
    again = _json(runner.invoke(app, ["ask", "How long are gift cards valid?", "--json"]))
    assert "guides/gift-cards" not in {c["doc_id"] for c in again["citations"]}


def test_unknown_document_is_an_error(bot_home: Path) -> None:
    result = runner.invoke(app, ["kb", "remove", "no-such-doc"])
    assert result.exit_code != 0
    assert "no document 'no-such-doc'" in str(result.exception)
