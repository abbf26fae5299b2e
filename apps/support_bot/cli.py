"""``verticals support ...``: knowledge base, training, asking, evaluation, demo, dashboard."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from enum import StrEnum
from itertools import takewhile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shared.cli import Address, open_dashboard
from shared.errors import VerticalsError
from shared.output import JsonFlag, count_of, emit, emit_rows

if TYPE_CHECKING:
    from .answer import Answer
    from .service import SupportService
    from .tables import Turn

app = typer.Typer(help="Support bot: chat over a knowledge base.", no_args_is_help=True)
kb_app = typer.Typer(help="Manage the knowledge base.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")

DEMO_DIR = Path(__file__).resolve().parents[2] / "datasets" / "support"


def _service():
    from .service import SupportService

    return SupportService()


@kb_app.command("add")
def kb_add(path: Path, as_json: JsonFlag = False) -> None:
    """Add or update documents from a FAQ CSV, KB CSV/JSONL or a folder of Markdown files."""
    emit(_note_unlinked(_service().kb_add(path)), as_json)


def _note_unlinked(result: dict) -> dict:
    """``result``, its ``templates_unlinked``, ``retrain_note`` and ``skipped_files`` said on stderr as well."""
    from .service import unlinked_note

    if unlinked := result.get("templates_unlinked"):
        print(f"note: {unlinked_note(unlinked)}", file=sys.stderr)
    if drift := result.get("retrain_note"):
        print(f"note: {drift}", file=sys.stderr)
    if skipped := result.get("skipped_files"):
        print(f"note: {len(skipped)} file(s) of the folder are of a type the knowledge base does not read, and were "
              f"left out ({', '.join(skipped[:5])}{', ...' if len(skipped) > 5 else ''}): save them as Markdown, "
              "CSV or JSONL to add them", file=sys.stderr)
    return result


@kb_app.command("list")
def kb_list(as_json: JsonFlag = False) -> None:
    """List the documents in the knowledge base."""
    docs = _service().kb_list()
    if not docs and not as_json:
        print("no documents yet: `verticals support kb add PATH`")
        return
    emit({"documents": docs} if as_json else docs, as_json)


@kb_app.command("remove")
def kb_remove(doc_ids: list[str], as_json: JsonFlag = False) -> None:
    """Remove documents (and their vectors) by id."""
    emit(_note_unlinked({"removed_documents": len(doc_ids)} | _service().kb_remove(doc_ids)), as_json)


@app.command()
def train(
    intents: Annotated[Path, typer.Option(help="Intent examples CSV (text,label; oos rows).")],
    kb: Annotated[Path | None, typer.Option(help="Add this KB first.")] = None,
    questions: Annotated[Path | None, typer.Option(help=(
        "Labelled questions about KB documents (query,relevant_id): the retriever and reranker "
        "learn from two thirds, the rest judge them."))] = None,
    epochs: Annotated[int, typer.Option(min=1, help="Epochs of the intent classifier.")] = 8,
    max_length: Annotated[int, typer.Option(
        min=1, help="Tokens of a message the intent classifier reads.")] = 32,
    layers: Annotated[int | None, typer.Option(
        min=1, help="Intent classifier from the base's first N layers (fewer: faster answers).")] = None,
    # subtle: one-name flags; a --x/--no-x pair takes two columns, and at 80 columns the help
    # cut the option names to "--tune-retriev…"
    no_tune_retriever: Annotated[bool, typer.Option(
        "--no-tune-retriever", help="Search with the base encoder (no contrastive tuning).")] = False,
    no_reranker: Annotated[bool, typer.Option("--no-reranker", help="Train no cross-encoder reranker.")] = False,
    reranker_epochs: Annotated[int, typer.Option(min=1, help="Epochs of the reranker.")] = 3,
    reranker_layers: Annotated[int, typer.Option(
        min=1, help="Reranker from the base's first N layers (fewer: faster answers).")] = 2,
    no_export: Annotated[bool, typer.Option(
        "--no-export", help="Serve torch (no int8/ONNX forms exported for CPU serving).")] = False,
    oos_label: str = "oos", as_json: JsonFlag = False,
) -> None:
    """Train intents, retriever and reranker; calibrate thresholds into the model card."""
    from .training import BotTrainer, TrainOptions

    service = _service()
    options = TrainOptions(epochs=epochs, max_length=max_length, layers=layers, tune_retriever=not no_tune_retriever,
                           reranker=not no_reranker, reranker_epochs=reranker_epochs,
                           reranker_layers=reranker_layers, export=not no_export, oos_label=oos_label)
    emit(BotTrainer(service, options).run(intents, questions, kb), as_json)


@app.command()
def ask(
    message: str,
    conversation: Annotated[str | None, typer.Option(help="Continue this conversation.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Ask the bot one question (answers with citations, or hands off)."""
    service = _service()
    _check_conversation(service, conversation)
    # an agent's replies (and a release) since the customer's last message, which the chat shows as they come
    replied = _agent_turns(service, conversation)
    answer = service.ask(message, conversation)
    if answer.kind == "invalid":  # empty, or no word: nothing was stored
        raise VerticalsError(_nothing_asked(answer))
    if as_json:
        print(json.dumps(answer.to_dict() | {"agent_replies": [t.answer for t in replied if t.kind == "agent"],
                                             "released": [t.answer for t in replied if t.kind == "released"]}))
        return
    _show(answer, replied, "leave out --conversation")


@app.command()
def chat(
    conversation: Annotated[str | None, typer.Option(help="Continue this conversation.")] = None,
) -> None:
    """Chat in the terminal: one conversation, the models loaded once (`ask` loads them for every
    question, about 5 s); `/new` starts another conversation, a blank line or Ctrl-D ends. Lines
    piped in are asked in turn (blank ones skipped)."""
    service = _service()
    _check_conversation(service, conversation)
    interactive = sys.stdin.isatty()
    if interactive:
        print("Ask a question (/new: a new conversation; a blank line or Ctrl-D ends).", file=sys.stderr)
    for line in _lines(interactive):
        if not (message := line.strip()):
            if interactive:
                break
            continue  # a blank line of a file
        if message == "/new":
            conversation = None
            print("(a new conversation)", file=sys.stderr)
            continue
        replied = _agent_turns(service, conversation)
        answer = service.ask(message, conversation)
        if answer.kind == "invalid":
            print(_nothing_asked(answer), file=sys.stderr)
            continue
        conversation = answer.conversation_id or conversation
        _show(answer, replied, "type /new")
        print(file=sys.stderr)


def _check_conversation(service: SupportService, conversation: str | None) -> None:
    """A clear error for a conversation id the store does not hold (None: a new conversation)."""
    if conversation and not service.has_conversation(conversation):
        raise VerticalsError(f"no conversation {conversation!r}: check the id printed after an "
                             "answer, or leave out --conversation to start a new one")


def _nothing_asked(answer: Answer) -> str:
    """Why an empty or wordless message was not asked: "nothing asked: please type a question."."""
    return f"nothing asked: {answer.text[0].lower()}{answer.text[1:]}"


def _lines(interactive: bool) -> Iterator[str]:
    """The lines typed (a prompt before each) or piped in, until Ctrl-D or the input's end."""
    while True:
        try:
            yield input("you> ") if interactive else next(sys.stdin)
        except (EOFError, StopIteration, KeyboardInterrupt):
            return


def _agent_turns(service: SupportService, conversation: str | None) -> list[Turn]:
    """An agent's replies (and a release) since the customer's last message in ``conversation``."""
    return list(takewhile(lambda t: t.kind in ("agent", "released"),
                          reversed(service.conversation(conversation))))[::-1] if conversation else []


def _show(answer: Answer, replied: list[Turn], elsewhere: str) -> None:
    """An answer as people read it: an agent's replies since the last message first, then the
    answer and its sources on stdout, its kind, confidence, conversation and turn on stderr."""
    for turn in replied:
        print(f"(a colleague replied) {turn.answer}" if turn.kind == "agent" else f"(handed back) {turn.answer}")
    if answer.notice:
        print(answer.notice, file=sys.stderr)
    print(answer.text)
    for c in answer.citations:
        print(f"  [{c.n}] {c.title} ({c.doc_id}{', ' + c.url if c.url else ''})")
    conversation = f", conversation {answer.conversation_id}" if answer.conversation_id else ""
    turn = f", turn {answer.turn_id}" if answer.turn_id else ""  # what `support vote` takes
    print(f"({answer.kind}, confidence {answer.confidence:.2f}{conversation}{turn})", file=sys.stderr)
    if answer.kind == "waiting":
        print(f"(an agent has this conversation: {elsewhere} to ask something else)", file=sys.stderr)


@app.command()
def handoffs(as_json: JsonFlag = False) -> None:
    """List open hand-off tickets: those waiting for an agent first (the longest wait first),
    then those an agent answered last."""
    tickets = _service().agents.handoffs()
    rows = [vars(t) | {"confidence": _rounded(t.confidence)} for t in tickets] if as_json else \
        [_ticket_row(t) for t in tickets]
    emit_rows(rows, "tickets", as_json, "no open hand-offs")


def _ticket_row(t) -> dict:
    """An open ticket as the `handoffs` table shows it: whose turn first, times as people read them."""
    from .tables import when

    waiting = f"for an agent since {when(t.waiting_since)}" if t.waiting_since else \
        f"for the customer (answered {when(t.replied)})"
    return {"id": t.id, "waiting": waiting, "question": t.question, "reason": t.reason, "intent": t.intent,
            "confidence": _rounded(t.confidence), "contact": t.contact, "conversation_id": t.conversation_id,
            "opened": when(t.created)}


def _rounded(confidence: float | None) -> float | None:
    return None if confidence is None else round(confidence, 3)


@app.command()
def release(ticket_id: int, as_json: JsonFlag = False) -> None:
    """Close a hand-off ticket: the bot answers in that conversation again."""
    agents = _service().agents
    conversation_id = agents.release(ticket_id)
    left = agents.unanswered(conversation_id)
    emit({"ticket_id": ticket_id, "released_conversation": conversation_id, "unanswered": left} if as_json else
         {"released conversation": conversation_id}, as_json)
    if left and not as_json:
        typer.echo(f"note: no reply answered what the customer wrote while waiting ({count_of(len(left), 'message')}; "
                   f"the last: “{left[-1][:80]}”): the bot will not answer it, and the customer's chat asks them to "
                   "write it again", err=True)


@app.command()
def reply(ticket_id: int, text: str,
          release: Annotated[bool, typer.Option("--release", help="Then give the conversation back to the bot.")]
          = False, as_json: JsonFlag = False) -> None:
    """Answer a hand-off ticket's customer as an agent (their chat shows it; payment data masked)."""
    service = _service()
    left = service.agents.unanswered_of_ticket(ticket_id) if release else []
    turn_id = service.agents.reply(ticket_id, text, release)
    if as_json:
        emit({"ticket_id": ticket_id, "turn_id": turn_id, "released": release} | (
            {"written_while_waiting": left} if release else {}), True)
        return
    done = " and released the conversation to the bot" if release else ""
    print(f"replied to ticket {ticket_id} (turn {turn_id}){done}")
    if left:
        from .agents import waiting_note

        typer.echo(f"note: {waiting_note(left)}", err=True)


@app.command()
def conversation(conversation_id: str, as_json: JsonFlag = False) -> None:
    """Show a conversation's turns, oldest first (masked as stored): the id is in
    `support handoffs` and after each answer of `support ask`."""
    service = _service()
    if not service.has_conversation(conversation_id):
        raise VerticalsError(f"no conversation {conversation_id!r}: `verticals support handoffs` lists the "
                             "conversations waiting for an agent")
    turns = service.conversation(conversation_id)
    if as_json:
        emit({"conversation_id": conversation_id, "status": service.conversation_status(conversation_id),
              "turns": [vars(t) for t in turns]}, True)
        return
    for t in turns:
        if t.question:
            print(f"{t.created}  customer: {t.question}")
        who = "agent" if t.kind == "agent" else f"bot ({t.kind}{', ' + t.intent if t.intent else ''})"
        print(f"{t.created}  {who}: {t.answer}")
    status = service.conversation_status(conversation_id)
    print("(handed off: the bot stays quiet until an agent releases it)" if status == "handed_off" else
          "(the bot answers this conversation)", file=sys.stderr)


class Vote(StrEnum):
    UP = "up"
    DOWN = "down"
    NONE = "none"


@app.command()
def vote(turn_id: int, verdict: Annotated[Vote, typer.Argument(help="up, down, or none to take a vote back.")],
         as_json: JsonFlag = False) -> None:
    """A customer's thumbs up or down on an answer, by the turn id `ask` prints (the dashboard's
    buttons): a down-voted answer joins the gaps. subtle: only the dashboard could vote."""
    service = _service()
    if verdict is Vote.NONE:
        service.unvote(turn_id)
    else:
        service.feedback(turn_id, verdict is Vote.UP)
    emit({"turn_id": turn_id, "vote": str(verdict)}, as_json)


@app.command()
def gaps(limit: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 50,
         as_json: JsonFlag = False) -> None:
    """Questions the bot could not answer or users down-voted, newest first, with the turn id
    that `teach` takes."""
    service = _service()
    taught, found = service.agents.taught(), service.agents.gaps(limit)
    elsewhere = service.agents.other_language({t.id: t.question for t in found})  # `teach` refuses them
    leaning = service.agents.leaning(found)  # and these: no subject of their own
    rows = [{"turn_id": t.id, "question": t.question, "after": leaning.get(t.id), "kind": t.kind, "intent": t.intent,
             "confidence": round(t.confidence, 3),
             "down_voted": t.feedback == -1 or None,  # a gap for its vote, not for a hand-off
             "taught_as": taught.get(t.id), "language": elsewhere.get(t.id)}  # another: not to be taught
            for t in found]
    emit_rows(rows, "gaps", as_json, "no gaps: nothing unanswered or down-voted yet")


@app.command()
def teach(turn_id: int, intent: str, as_json: JsonFlag = False) -> None:
    """Label a gap's question (by turn id) with an intent, the out-of-scope label or
    knowledge_base (answered by search): the same question is answered so from now on, and
    `retrain` learns questions like it from every such lesson."""
    emit(_service().agents.teach(turn_id, intent), as_json)


@app.command()
def lessons(as_json: JsonFlag = False) -> None:
    """The questions taught so far, oldest first: what the next `retrain` learns."""
    rows = [vars(lesson) for lesson in _service().agents.lessons()]
    emit_rows(rows, "lessons", as_json,
              "no lessons yet: `verticals support gaps`, then `verticals support teach TURN INTENT`")


@app.command()
def unteach(turn_id: int, as_json: JsonFlag = False) -> None:
    """Take back a lesson (by turn id): no longer answered as taught; `support train` leaves it out."""
    emit(_service().agents.unteach(turn_id), as_json)


@app.command()
def retrain(as_json: JsonFlag = False) -> None:
    """Retrain the intent model on its data and the lessons now (promoted only if not worse)."""
    emit(_service().agents.retrain(), as_json)


@app.command()
def schedule(hour: Annotated[int, typer.Option(min=0, max=23, help="Hour (UTC).")] = 3,
             minute: Annotated[int, typer.Option(min=0, max=59)] = 0,
             once: Annotated[bool, typer.Option(help="Run the job now and exit.")] = False) -> None:
    """Retrain the intent model on the lessons nightly with APScheduler (foreground; Ctrl-C stops)."""
    from .schedule import nightly_retrain, start_scheduler

    if once:
        print(nightly_retrain())
        return
    start_scheduler(hour, minute)


@app.command("eval-intents")
def eval_intents(
    train: Annotated[Path, typer.Option(help="Training CSV (text,label).")],
    test: Annotated[Path, typer.Option(help="Test CSV (text,label).")],
    oos_label: str = "oos",
    epochs: Annotated[int, typer.Option(min=1, help="Epochs of the intent classifier.")] = 8,
    max_length: Annotated[int, typer.Option(
        min=1, help="Tokens of a message the intent classifier reads.")] = 32,
    layers: Annotated[int | None, typer.Option(
        min=1, help="Intent classifier from the base's first N layers (fewer: faster answers).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Train on TRAIN (calibrating on a split of it), report metrics on TEST."""
    from .evaluation import evaluate_intents

    emit(evaluate_intents(train, test, oos_label, epochs, max_length), as_json)


@app.command("eval-retrieval")
def eval_retrieval(
    kb: Annotated[Path, typer.Option(help="Knowledge base file or folder.")],
    queries: Annotated[Path, typer.Option(help="CSV query,relevant_id.")],
    as_json: JsonFlag = False,
) -> None:
    """Recall@1/@5 and MRR@10 of the trained bot's models on KB (indexed in a scratch store):
    dense, hybrid, as the bot serves, and always reranked."""
    from .evaluation import evaluate_retrieval

    result = evaluate_retrieval(kb, queries)
    if as_json:
        return emit(result, True)
    misses = result.pop("served_misses")
    emit(result, False)
    if result["hybrid_held_out"]:
        print(f"scored on {result['n_queries']} held-out queries; the other {result['tuned_on']} tuned the hybrid "
              "(BM25) weight", file=sys.stderr)
    for miss in misses:
        print(f"missed at 1: {miss['query']!r} (relevant {miss['relevant_id']}, served first "
              f"{miss['first'] or 'nothing'})", file=sys.stderr)


@app.command()
def demo(as_json: JsonFlag = False) -> None:
    """Load the demo KB and train the demo models unless already done (idempotent)."""
    from .training import BotTrainer, TrainOptions, demo_kept, trained_on

    service = _service()
    result = {"kb": service.kb_add(DEMO_DIR / "kb")}
    intents, questions = DEMO_DIR / "intents.csv", DEMO_DIR / "article_questions.csv"
    demo = trained_on(intents, questions, service.store.documents(), TrainOptions(), service.agents.lesson_rows())
    kept = demo_kept(service.intent_card(), demo)
    result["train"] = kept or BotTrainer(service, TrainOptions()).run(intents, questions)
    emit(result, as_json)


@app.command()
def dashboard(port: int = 8502, address: Address = "127.0.0.1",
              chat_only: Annotated[bool, typer.Option(
                  "--chat-only", help="Only the chat: the page for customers (no admin, hand-off, gaps or "
                                      "model tabs; agents use a dashboard without it).")] = False) -> None:
    """Open the support dashboard (streamlit run)."""
    open_dashboard(Path(__file__).with_name("dashboard.py"), port, address=address,
                   env={"VERTICALS_SUPPORT_CHAT_ONLY": "1" if chat_only else ""})
