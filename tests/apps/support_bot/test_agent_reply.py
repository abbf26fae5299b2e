"""A human agent answers a handed-off conversation: the reply is stored in it, the customer's
later messages wait for the agent, and a release gives the conversation back to the bot."""

from __future__ import annotations

import pytest

from apps.support_bot.other_languages import PARTLY_ANSWERED_TEXTS, RELEASED_TEXTS, UNANSWERED_TEXTS
from shared.errors import VerticalsError


def test_reply_then_release_gives_the_chat_back_to_the_bot(bot) -> None:
    handed = bot.ask("who won the football match yesterday?")
    assert handed.ticket_id is not None
    cid = handed.conversation_id

    bot.agents.reply(handed.ticket_id, "  Mail returns@shop.example or call 0800 123 4567.  ")
    turns = bot.conversation(cid)  # the shop's own words reach the customer as written
    assert (turns[-1].kind, turns[-1].answer) == ("agent", "Mail returns@shop.example or call 0800 123 4567.")
    assert bot.conversation_status(cid) == "handed_off"
    assert bot.ask("any news?", cid).kind == "waiting"  # still the agent's conversation
    assert bot.agents.unanswered(cid) == ["any news?"]  # written since the agent's reply: a release would lose it

    bot.agents.reply(handed.ticket_id, "Sorry, we only cover orders.", release=True)
    assert bot.agents.handoffs() == [] and bot.conversation_status(cid) == "bot"
    assert [t.kind for t in bot.conversation(cid)] == ["handoff", "agent", "waiting", "agent", "released"]
    # the reply may not answer all that was waiting ("any news?"): the customer is asked to write again what it did not
    assert bot.conversation(cid)[-1].answer == f"{RELEASED_TEXTS['English']} {PARTLY_ANSWERED_TEXTS['English']}"
    assert bot.agents.unanswered(cid) == []  # the last reply came after it
    again = bot.ask("who won the football match yesterday?", cid)
    bot.agents.reply(again.ticket_id, "We only know about orders.", release=True)  # nothing written while waiting
    assert bot.conversation(cid)[-1].answer == RELEASED_TEXTS["English"]
    assert "3 years" in bot.ask("How long are gift cards valid?", cid).text
    assert all(t.kind != "agent" for t in bot.agents.gaps())  # replies are no knowledge-base gap


@pytest.mark.parametrize(("ticket", "text", "message"), [
    (999, "hello", "no hand-off ticket 999"),
    (None, "   ", "is empty: write some text first"),
    ("released", "hello", "was already released at .* — reply to an open one"),
])
def test_bad_replies_are_refused_in_one_line(bot, ticket, text: str, message: str) -> None:
    handed = bot.ask("who won the football match yesterday?")
    if ticket is None:
        ticket = handed.ticket_id
    elif ticket == "released":
        ticket = handed.ticket_id
        bot.agents.release(ticket)
    before = bot.conversation(handed.conversation_id)
    with pytest.raises(VerticalsError, match=message):
        bot.agents.reply(ticket, text)
    assert bot.conversation(handed.conversation_id) == before


def test_a_release_tells_the_customer_in_their_language_what_is_left_to_ask_again(bot) -> None:
    """The customer's chat still said a colleague would reply, and their next message went to
    the bot: a release now says so in the chat, asking again for what no reply answered."""
    handed = bot.ask("who won the football match yesterday?")
    bot.ask("and do you also sell helmets?", handed.conversation_id)  # written while waiting
    bot.ask("Danke!", handed.conversation_id)  # asks nothing: not to ask again
    bot.agents.release(handed.ticket_id)
    told = bot.conversation(handed.conversation_id)[-1]
    assert told.kind == "released" and told.question == ""
    assert told.answer == f"{RELEASED_TEXTS['English']} {UNANSWERED_TEXTS['English']}"
    assert bot.agents.unanswered(handed.conversation_id) == ["and do you also sell helmets?"]  # the desk warns
    assert all(t.kind != "released" for t in bot.agents.gaps())

    german = bot.ask("Wie lange dauert die Lieferung nach Berlin?")
    bot.agents.release(german.ticket_id)
    assert bot.conversation(german.conversation_id)[-1].answer == \
        f"{RELEASED_TEXTS['German']}\n\n{RELEASED_TEXTS['English']}"
    with pytest.raises(VerticalsError, match=f"ticket {german.ticket_id} was already released"):
        bot.agents.release(german.ticket_id)
    assert [t.kind for t in bot.conversation(german.conversation_id)] == ["handoff", "released"]  # told once


def test_a_vote_can_be_taken_back(bot) -> None:
    answer = bot.ask("How long are gift cards valid?")
    bot.feedback(answer.turn_id, False)
    assert [t.id for t in bot.agents.gaps()] == [answer.turn_id]
    bot.unvote(answer.turn_id)
    assert bot.agents.gaps() == [] and bot.conversation(answer.conversation_id)[-1].feedback is None


def test_a_question_in_another_language_is_no_lesson(bot) -> None:
    asked = bot.ask("Wie lange dauert die Lieferung nach Berlin?")
    with pytest.raises(VerticalsError, match=rf"turn {asked.turn_id} is written in German, and the bot reads "
                                             "English only"):
        bot.agents.teach(asked.turn_id, "oos")
    assert bot.agents.lessons() == []


def test_a_question_with_no_subject_of_its_own_is_no_lesson(bot) -> None:
    """An audit taught "how much per month?" (asked after a parking question) as parking: a desk
    plan's "how much per month?" in another chat then got the parking fees."""
    first = bot.ask("When do your stores open?")
    asked = bot.ask("how much per month?", first.conversation_id)
    with pytest.raises(VerticalsError, match=rf"turn {asked.turn_id} \('how much per month\?'\) names no subject of "
                                             "its own: it means what the turn before it asked about"):
        bot.agents.teach(asked.turn_id, "store_hours")
    assert bot.agents.lessons() == []
    # the gaps show it beside the question it followed (they had listed it alone)
    [turn] = [t for t in bot.conversation(first.conversation_id) if t.id == asked.turn_id]
    assert bot.agents.leaning([turn]) == {asked.turn_id: "When do your stores open?"}


def test_the_agent_can_reach_a_customer_who_left_a_number(bot) -> None:
    """"Please call me back on +44 7700 900123" reached the agent as "[PHONE]": masked
    everywhere, the number was nowhere. It stays with the open ticket, and goes at its release."""
    handed = bot.ask("I want to speak to a person, please call me back on +44 7700 900123")
    [ticket] = bot.agents.handoffs()
    assert ticket.contact == "+44 7700 900123" and "[PHONE]" in ticket.question  # the record stays masked
    bot.ask("or mail me at jo@example.com", handed.conversation_id)  # written while waiting
    assert bot.agents.handoffs()[0].contact == "+44 7700 900123 · jo@example.com"
    bot.agents.release(ticket.id)
    assert bot.store.tickets(status=None)[-1].contact is None


def test_a_second_ticket_reports_only_its_own_unanswered_messages(bot) -> None:
    """A first ticket released without a reply left its waiting message; the second hand-off in
    the same chat must not report it again."""
    first = bot.ask("who won the football match yesterday?")
    bot.ask("do you sell helmets?", first.conversation_id)
    assert bot.agents.unanswered(first.conversation_id) == ["do you sell helmets?"]
    bot.agents.release(first.ticket_id)
    second = bot.ask("I want to talk to a person", first.conversation_id)
    assert second.ticket_id is not None and bot.agents.unanswered(first.conversation_id) == []
    bot.ask("call me on 0161 496 0000", first.conversation_id)
    assert bot.agents.handoffs()[0].contact == "0161 496 0000"
    bot.agents.reply(second.ticket_id, "Calling you now.", release=True)  # a reply that releases forgets it too
    assert [t.contact for t in bot.store.tickets(status=None)] == [None, None]


def test_the_queue_puts_customers_waiting_for_a_reply_first(bot) -> None:
    """A ticket an agent had answered and one nobody had read looked the same in the queue,
    oldest first. Waiting ones come first; a customer writing again after a reply waits again."""
    first = bot.ask("who won the football match yesterday?")
    second = bot.ask("is it going to rain tomorrow?")
    bot.agents.reply(first.ticket_id, "Sorry, we only cover orders.")
    queue = bot.agents.handoffs()
    assert [t.id for t in queue] == [second.ticket_id, first.ticket_id]  # the answered one waits for the customer
    assert queue[0].waiting_since == queue[0].created and queue[0].replied is None
    assert queue[1].waiting_since is None and queue[1].replied is not None
    assert bot.agents.waiting_count() == 1
    bot.ask("but who scored?", first.conversation_id)  # the customer writes again: the agent's turn
    again = next(t for t in bot.agents.handoffs() if t.id == first.ticket_id)
    assert again.waiting_since is not None and again.replied is None and bot.agents.waiting_count() == 2


def test_teaching_a_message_of_two_questions_says_it_teaches_both_as_one(bot) -> None:
    """"Where is my order? Also, can I pay by Klarna?" taught track_order taught the model that
    Klarna questions are tracking ones, and nothing said so."""
    asked = bot.ask("Where is my order? Also, can I change the delivery address?")
    taught = bot.agents.teach(asked.turn_id, "track_order")
    assert taught["note"] == ("the message asks 2 questions: the bot still answers each, but the next retrain learns "
                              f"all of it as track_order (`support unteach {asked.turn_id}` if only one of them is)")
    again = bot.ask("Where is my order? Also, can I change the delivery address?")
    assert (again.kind, again.confidence) != ("template", 1.0)  # not the lesson's one template: each is answered
