"""What the bot says to a customer writing in another language than the knowledge base's: that a
colleague will reply, in the customer's language and then in the shop's. It answers nothing else
in it: its models read the shop's language only (``shared.language`` tells which is which).

subtle: "Wie lange dauert die Lieferung nach Berlin?" was handed off with "I'm not sure I can
answer that correctly": English, to a customer who wrote German, and the wrong reason besides."""

from __future__ import annotations

from .answer import WAITING_TEXT

# the hand-off of a message in another language; {ticket} is the ticket's number
HANDOFF_TEXTS = {
    "English": "I can't answer messages in this language myself, so I've passed yours to a colleague "
               "(ticket #{ticket}), who will reply in this conversation.",
    "German": "Nachrichten in dieser Sprache kann ich nicht selbst beantworten. Ich habe Ihre Nachricht an "
              "einen Kollegen weitergegeben (Ticket #{ticket}), der Ihnen in diesem Gespräch antwortet.",
    "French": "Je ne peux pas répondre moi-même aux messages dans cette langue : j'ai transmis le vôtre à un "
              "collègue (ticket n° {ticket}), qui vous répondra dans cette conversation.",
    "Spanish": "No puedo responder yo mismo a mensajes en este idioma, así que he pasado el suyo a un compañero "
               "(ticket n.º {ticket}), que le responderá en esta conversación.",
    "Italian": "Non posso rispondere io stesso ai messaggi in questa lingua, quindi ho inoltrato il suo a un "
               "collega (ticket n. {ticket}), che le risponderà in questa conversazione.",
    "Dutch": "Berichten in deze taal kan ik zelf niet beantwoorden, dus ik heb uw bericht doorgestuurd naar een "
             "collega (ticket #{ticket}), die u in dit gesprek antwoordt.",
    "Portuguese": "Não consigo responder sozinho a mensagens neste idioma, por isso encaminhei a sua a um colega "
                  "(ticket n.º {ticket}), que lhe responderá nesta conversa.",
}
# written while a colleague has the conversation
WAITING_TEXTS = {
    "English": WAITING_TEXT,
    "German": "Ein Kollege kümmert sich um dieses Gespräch und antwortet Ihnen hier.",
    "French": "Un collègue s'occupe de cette conversation et vous répondra ici.",
    "Spanish": "Un compañero se ocupa de esta conversación y le responderá aquí.",
    "Italian": "Un collega si occupa di questa conversazione e le risponderà qui.",
    "Dutch": "Een collega behandelt dit gesprek en antwoordt u hier.",
    "Portuguese": "Um colega está a tratar desta conversa e responderá aqui.",
}


def in_their_language(texts: dict[str, str], written: str | None, shop: str | None, **fields) -> str | None:
    """``texts``' sentence in the customer's language ``written``, then in the shop's (for its
    agents, and for a customer whose language was misread); None when the customer wrote the
    shop's language, or one these texts lack.

    >>> print(in_their_language(WAITING_TEXTS, "German", "English"))
    Ein Kollege kümmert sich um dieses Gespräch und antwortet Ihnen hier.
    <BLANKLINE>
    A colleague is looking after this conversation and will reply here.
    """
    if written == shop or written not in texts:
        return None
    theirs = texts[written].format(**fields)
    return f"{theirs}\n\n{texts[shop].format(**fields)}" if shop in texts else theirs
