"""The ``verticals support`` commands, run in-process with typer's runner."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from apps.support_bot.cli import app
from apps.support_bot.knowledge import CHUNK_WORDS
from apps.support_bot.other_languages import RELEASED_TEXTS

from .conftest import DEMO

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
    result = runner.invoke(app, ["kb", "remove", "guides/gift-cards", "--json"])
    removed = _json(result)
    assert removed["removed_chunks"] >= 1
    assert "repaired" not in result.stderr  # the index loads before the database changes
    again = _json(runner.invoke(app, ["ask", "How long are gift cards valid?", "--json"]))
    assert "guides/gift-cards" not in {c["doc_id"] for c in again["citations"]}
    assert "templates_unlinked" not in removed
    template = runner.invoke(app, ["kb", "remove", "faq-what-are-your-store-opening-hours", "--json"])
    assert _json(template)["templates_unlinked"] == {"store_hours": "faq-what-are-your-store-opening-hours"}
    assert ("note: the answer template of store_hours is no longer in the knowledge base; those questions are "
            "answered by search until you run `verticals support train` again") in template.stderr
    later = runner.invoke(app, ["kb", "remove", "kb-privacy", "--json"])  # said once, by the change that did it
    assert "templates_unlinked" not in _json(later) and "note:" not in later.stderr


def test_an_agent_works_a_handoff_and_the_gaps_from_the_cli(bot_home: Path) -> None:
    """handoffs (with the bot's guess) -> conversation -> reply --release; gaps -> teach ->
    lessons -> unteach."""
    handed = _json(runner.invoke(app, ["ask", "who won the football game last night?", "--json"]))
    [ticket] = _json(runner.invoke(app, ["handoffs", "--json"]))["tickets"]
    assert ticket["id"] == handed["ticket_id"] and abs(ticket["confidence"] - handed["confidence"]) < 1e-3
    assert ticket["intent"] == handed["intent"]
    shown = runner.invoke(app, ["conversation", handed["conversation_id"]])
    assert shown.exit_code == 0 and "customer: who won the football game last night?" in shown.stdout
    assert "(handed off: the bot stays quiet until an agent releases it)" in shown.stderr
    waiting = runner.invoke(app, ["ask", "hello?", "--conversation", handed["conversation_id"]])
    assert "leave out --conversation to ask something else" in waiting.stderr
    pasted = runner.invoke(app, ["reply", str(ticket["id"]), "Your card 4111 1111 1111 1111 is fine."])
    assert pasted.stdout.startswith(f"replied to ticket {ticket['id']} (turn ")
    [header, row] = runner.invoke(app, ["handoffs"]).stdout.splitlines()  # whose turn it is, first
    assert header.split()[:2] == ["id", "waiting"]
    assert re.match(rf"{ticket['id']}\s+for the customer \(answered 20", row)
    replied = _json(runner.invoke(app, ["reply", str(ticket["id"]), "We only cover orders, sorry.", "--release",
                                        "--json"]))
    assert replied["ticket_id"] == ticket["id"] and replied["released"] is True
    assert replied["written_while_waiting"] == []  # "hello?" came before the first reply
    turns = _json(runner.invoke(app, ["conversation", handed["conversation_id"], "--json"]))
    assert turns["status"] == "bot" and turns["turns"][-2]["answer"] == "We only cover orders, sorry."
    assert turns["turns"][-1]["kind"] == "released"  # the customer's chat says the bot has it again
    assert turns["turns"][-3]["answer"] == "Your card [CARD] is fine."  # payment data masked, even an agent's
    refused = runner.invoke(app, ["teach", str(turns["turns"][-4]["id"]), "oos"])
    assert "('hello?') was waiting, not a question the bot answered" in str(refused.exception)
    assert not _json(runner.invoke(app, ["handoffs", "--json"]))["tickets"]
    assert runner.invoke(app, ["handoffs"]).stdout == "no open hand-offs\n"
    back = runner.invoke(app, ["ask", "ok, and where is my order?", "--conversation", handed["conversation_id"]])
    assert back.stdout.splitlines()[:3] == ["(a colleague replied) Your card [CARD] is fine.",
                                            "(a colleague replied) We only cover orders, sorry.",
                                            f"(handed back) {RELEASED_TEXTS['English']}"]

    assert runner.invoke(app, ["lessons"]).stdout.startswith("no lessons yet")
    turn = handed["turn_id"]
    _json(runner.invoke(app, ["teach", str(turn), "OOS", "--json"]))  # labels in any case
    [gap] = [g for g in _json(runner.invoke(app, ["gaps", "--json"]))["gaps"] if g["turn_id"] == turn]
    assert gap["taught_as"] == "oos"
    [lesson] = _json(runner.invoke(app, ["lessons", "--json"]))["lessons"]
    assert (lesson["turn_id"], lesson["intent"]) == (turn, "oos")
    assert _json(runner.invoke(app, ["unteach", str(turn), "--json"]))["lessons"] == 0
    again = runner.invoke(app, ["unteach", str(turn)])
    assert f"no lesson for turn {turn}" in str(again.exception)
    missing = runner.invoke(app, ["conversation", "typo-id"])
    assert "no conversation 'typo-id'" in str(missing.exception)
    # a thumbs down from the CLI (only the dashboard had one): the answer joins the gaps, marked
    answered = runner.invoke(app, ["ask", "How long are gift cards valid?"])
    voted = int(re.search(r", turn (\d+)\)", answered.stderr)[1])
    assert _json(runner.invoke(app, ["vote", str(voted), "down", "--json"])) == {"turn_id": voted, "vote": "down"}
    [gap] = [g for g in _json(runner.invoke(app, ["gaps", "--json"]))["gaps"] if g["turn_id"] == voted]
    assert gap["down_voted"] is True
    runner.invoke(app, ["vote", str(voted), "none"])
    assert voted not in {g["turn_id"] for g in _json(runner.invoke(app, ["gaps", "--json"]))["gaps"]}
    assert "no turn 99999" in str(runner.invoke(app, ["vote", "99999", "up"]).exception)
    refused = runner.invoke(app, ["vote", str(turn), "down"])  # the hand-off: no answer of the bot's to judge
    assert f"turn {turn} is a handoff turn: only the bot's answers (template, grounded) take a vote" in \
        str(refused.exception)


def test_an_empty_question_is_an_error_on_the_cli(bot_home: Path) -> None:
    empty = runner.invoke(app, ["ask", "   "])
    assert empty.exit_code == 1 and "nothing asked: please type a question." in str(empty.exception)


def test_chat_keeps_one_conversation_until_new(bot_home: Path) -> None:
    """Lines piped to `support chat` are asked in turn, in one conversation until `/new`; a line
    with no word is refused and the chat goes on."""
    result = runner.invoke(app, ["chat"], input="How long are gift cards valid?\n???\n\nand can I get a refund?\n"
                                                "/new\nhello\n")
    assert result.exit_code == 0, result.output
    assert "Gift cards are valid for 3 years" in result.stdout and "nothing asked: please type" in result.stderr
    ids = re.findall(r"conversation ([0-9a-f]+), turn", result.stderr)
    assert len(ids) == 3 and ids[0] == ids[1] != ids[2], ids
    assert "(a new conversation)" in result.stderr


def test_an_unknown_conversation_is_an_error_not_a_new_chat(bot_home: Path) -> None:
    result = runner.invoke(app, ["ask", "where is my order?", "--conversation", "typo-id"])
    assert "no conversation 'typo-id'" in str(result.exception)


def test_eval_intents_refuses_a_test_label_it_cannot_learn(bot_home: Path, tmp_path: Path) -> None:
    test = tmp_path / "test.csv"
    test.write_text("text,label\nwhere is my parcel,track_order\nupgrade my phone plan,upgrade_mobile\n")
    result = runner.invoke(app, ["eval-intents", "--train", str(DEMO / "intents.csv"), "--test", str(test)])
    assert "row 3: label 'upgrade_mobile' does not occur in the training data" in str(result.exception)
    named = runner.invoke(app, ["eval-intents", "--train", str(DEMO / "intents.csv"), "--test", str(test),
                                "--oos-label", "nothere"])  # its "oos" rows were scored as one more intent
    assert "--oos-label 'nothere' names no row of" in str(named.exception)


def test_unknown_document_is_an_error(bot_home: Path) -> None:
    result = runner.invoke(app, ["kb", "remove", "no-such-doc"])
    assert result.exit_code != 0
    assert "no document 'no-such-doc'" in str(result.exception)


@pytest.mark.parametrize("flag", ["--layers", "--reranker-layers"])
def test_a_model_deeper_than_its_base_is_refused_before_training(bot_home: Path, flag: str) -> None:
    result = runner.invoke(app, ["train", "--intents", str(DEMO / "intents.csv"), flag, "7"])
    assert result.exit_code != 0
    assert f"{flag} 7: the base 'minilm' has only 6 layers; use 6 or fewer" in str(result.exception)


def _newer_reranker_made_current(home: Path) -> None:
    """The home's models, with a newer ``support-reranker`` version made current after the bot
    was trained (it pins the one it was calibrated with)."""
    trained = (home / "models").resolve()
    (home / "models").unlink()
    (home / "models").mkdir()
    for model in trained.iterdir():
        if model.name != "support-reranker":
            (home / "models" / model.name).symlink_to(model)
    rerankers = home / "models" / "support-reranker"
    rerankers.mkdir()
    for version in (trained / "support-reranker").glob("v*"):
        (rerankers / version.name).symlink_to(version)
    (rerankers / "v99").mkdir()  # not loadable: serving or evaluating it fails
    (rerankers / "v99" / "card.json").write_text("{}")
    (rerankers / "CURRENT").write_text("v99\n")


def test_eval_retrieval_reports_what_the_bot_serves(bot_home: Path) -> None:
    _newer_reranker_made_current(bot_home)
    card = json.loads(next((bot_home / "models" / "support-intents").glob("v*/card.json")).read_text())
    bot = card["bot"]
    assert Path(card["trained_on"]["intents"]).name == "intents.csv"  # `support demo` reads it
    result = runner.invoke(app, ["eval-retrieval", "--kb", str(DEMO / "kb"), "--queries",
                                 str(DEMO / "queries.csv"), "--json"])
    out = _json(result)
    assert out["reranker"] == bot["reranker"] and bot["reranker"].startswith("support-reranker@v")
    assert bot["chunk_words"] == CHUNK_WORDS
    assert (out["use_reranker"], out["rerank_margin"]) == (bot["use_reranker"], bot["rerank_margin"])
    for mode in ("dense", "rrf", "hybrid", "served", "always_reranked"):
        assert 0.0 <= out[f"{mode}_recall@1"] <= out[f"{mode}_recall@5"] <= 1.0
    if not bot["use_reranker"]:  # the bot does not rerank: it serves the hybrid ranking
        assert [out[f"served_{k}"] for k in ("recall@1", "mrr@10")] == \
            [out[f"hybrid_{k}"] for k in ("recall@1", "mrr@10")]
    assert out["dense_recall@5"] >= 0.6 and out["n_queries"] == 20 and out["hybrid_held_out"]
    # the questions the served ranking missed at 1, by name: as many as its recall@1 says
    assert len(out["served_misses"]) == round((1 - out["served_recall@1"]) * out["n_queries"])
    assert all(m["first"] != m["relevant_id"] for m in out["served_misses"])
    assert f"indexing {DEMO / 'kb'} in a scratch store" in result.stderr
    assert "from the database" not in result.stderr


def test_eval_retrieval_and_train_reject_unknown_ids(bot_home: Path, tmp_path: Path) -> None:
    queries = tmp_path / "q.csv"
    queries.write_text("query,relevant_id\nwhere is my order,no-such-doc\n")
    for args in (["eval-retrieval", "--kb", str(DEMO / "kb"), "--queries", str(queries)],
                 ["train", "--intents", str(DEMO / "intents.csv"), "--questions", str(queries)]):
        result = runner.invoke(app, args)
        assert result.exit_code != 0
        assert "row 2: relevant_id 'no-such-doc'" in str(result.exception)


@pytest.mark.slow
def test_eval_intents_reports_oos_metrics(bot_home: Path) -> None:
    out = _json(runner.invoke(app, ["eval-intents", "--train", str(DEMO / "intents.csv"),
                                    "--test", str(DEMO / "intents_test.csv"), "--epochs", "4",
                                    "--json"]))
    assert {"accuracy", "macro_f1", "in_scope_accuracy", "oos_recall", "oos_precision"} <= set(out)


def test_kb_list_on_an_empty_database_says_how_to_add(empty_home: Path) -> None:
    result = runner.invoke(app, ["kb", "list"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "no documents yet: `verticals support kb add PATH`"
    assert _json(runner.invoke(app, ["kb", "list", "--json"])) == {"documents": []}


def test_train_help_says_which_model_each_epochs_flag_trains() -> None:
    result = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "200"})
    lines = {line.split()[1]: line for line in result.stdout.splitlines() if line.strip("│ ").startswith("--")}
    assert "Epochs of the intent classifier." in lines["--epochs"]
    assert "Epochs of the reranker." in lines["--reranker-epochs"] and "[default: 3]" in lines["--reranker-epochs"]
    narrow = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "80"}).stdout
    assert "--no-tune-retriever" in narrow and "--reranker-layers" in narrow and "…" not in narrow


def test_train_refuses_the_knowledge_base_label(empty_home: Path) -> None:
    from apps.support_bot.service import SupportService
    from apps.support_bot.training import BotTrainer
    from shared.errors import VerticalsError

    intents = empty_home / "intents.csv"
    intents.parent.mkdir(parents=True, exist_ok=True)
    intents.write_text("text,label\nwhere is my order,track_order\nhow do I join the club,knowledge_base\n")
    with pytest.raises(VerticalsError, match="'knowledge_base' is the bot's own"):
        BotTrainer(SupportService()).run(intents)
    # eval-intents too, before any training
    result = runner.invoke(app, ["eval-intents", "--train", str(intents), "--test", str(intents), "--json"])
    assert result.exit_code == 1 and "'knowledge_base' is the bot's own" in str(result.exception)
    # with --kb: the bad intents file is refused before the knowledge base changes
    result = runner.invoke(app, ["train", "--intents", str(intents), "--kb", str(DEMO / "kb")])
    assert result.exit_code == 1 and "'knowledge_base' is the bot's own" in str(result.exception)
    assert SupportService().store.document_count() == 0
    # and a questions file naming a document neither the KB nor --kb holds
    questions = empty_home / "questions.csv"
    questions.write_text("query,relevant_id\nhow do I oil the chain,no-such-doc\n")
    result = runner.invoke(app, ["train", "--intents", str(DEMO / "intents.csv"), "--kb", str(DEMO / "kb"),
                                 "--questions", str(questions)])
    assert result.exit_code == 1 and "no-such-doc" in str(result.exception)
    assert SupportService().store.document_count() == 0


@pytest.mark.parametrize("flag", ["--epochs", "--reranker-epochs", "--layers", "--reranker-layers", "--max-length"])
def test_train_refuses_a_count_below_one_naming_the_flag(empty_home: Path, flag: str) -> None:
    result = runner.invoke(app, ["train", "--intents", str(DEMO / "intents.csv"), flag, "0"])
    assert result.exit_code == 2
    assert f"Invalid value for '{flag}'" in result.output
