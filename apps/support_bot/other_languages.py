"""What the bot says to a customer writing in another language than the knowledge base's: that a
colleague will reply, or has handed the conversation back, in the customer's language and then
in the shop's; and the label above a colleague's reply, in theirs. It answers nothing else
in it: its models read the shop's language only (``shared.language`` tells which is which).

subtle: "Wie lange dauert die Lieferung nach Berlin?" was handed off with "I'm not sure I can
answer that correctly": English, to a customer who wrote German, and the wrong reason besides."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from shared.language import language

from .answer import WAITING_TEXT

if TYPE_CHECKING:
    from .tables import Turn

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

# the label above an agent's reply in the customer's chat
REPLIED_LABELS = {
    "English": "A colleague replied",
    "German": "Ein Kollege hat geantwortet",
    "French": "Un collègue a répondu",
    "Spanish": "Un compañero ha respondido",
    "Italian": "Un collega ha risposto",
    "Dutch": "Een collega heeft geantwoord",
    "Portuguese": "Um colega respondeu",
}

# an agent released the conversation: the bot answers it again; and, after that, where no reply
# answered what the customer wrote while waiting
RELEASED_TEXTS = {
    "English": "A colleague has handed this conversation back to me. Ask me anything here; if I can't "
               "answer, I'll pass you on again.",
    "German": "Ein Kollege hat dieses Gespräch an mich zurückgegeben. Fragen Sie mich hier gern weiter; wenn "
              "ich nicht antworten kann, leite ich Sie erneut an einen Kollegen weiter.",
    "French": "Un collègue m'a rendu cette conversation. Posez-moi vos questions ici ; si je ne peux pas "
              "répondre, je transmettrai à nouveau votre demande à un collègue.",
    "Spanish": "Un compañero me ha devuelto esta conversación. Pregúnteme lo que necesite aquí; si no puedo "
               "responder, le pasaré de nuevo a un compañero.",
    "Italian": "Un collega mi ha restituito questa conversazione. Mi chieda pure qui; se non posso rispondere, "
               "la passerò di nuovo a un collega.",
    "Dutch": "Een collega heeft dit gesprek aan mij teruggegeven. Stel uw vragen hier gerust; als ik ze niet "
             "kan beantwoorden, geef ik uw vraag opnieuw door aan een collega.",
    "Portuguese": "Um colega devolveu-me esta conversa. Pergunte-me o que precisar aqui; se eu não souber "
                  "responder, volto a encaminhar o seu pedido a um colega.",
}
UNANSWERED_TEXTS = {
    "English": "What you wrote while waiting has not been answered: please ask it again if you still need an "
               "answer.",
    "German": "Was Sie während des Wartens geschrieben haben, ist noch nicht beantwortet: Bitte fragen Sie "
              "noch einmal, falls es noch offen ist.",
    "French": "Ce que vous avez écrit pendant l'attente n'a pas reçu de réponse : reposez la question si "
              "elle est toujours d'actualité.",
    "Spanish": "Lo que escribió mientras esperaba no ha recibido respuesta: vuelva a preguntarlo si sigue "
               "pendiente.",
    "Italian": "Ciò che ha scritto durante l'attesa non ha ancora ricevuto risposta: lo chieda di nuovo se è "
               "ancora in sospeso.",
    "Dutch": "Wat u tijdens het wachten schreef, is nog niet beantwoord: stel het gerust opnieuw als het nog "
             "speelt.",
    "Portuguese": "O que escreveu enquanto esperava ainda não teve resposta: volte a perguntar se ainda "
                  "estiver em aberto.",
}

# released with a reply that may not have answered all they wrote while waiting: the agent's reply
# above says what it covers, the customer knows what it did not
PARTLY_ANSWERED_TEXTS = {
    "English": "If the reply above did not answer everything you wrote while waiting, please ask that again.",
    "German": "Falls die Antwort oben nicht alles beantwortet, was Sie während des Wartens geschrieben haben, "
              "fragen Sie das bitte noch einmal.",
    "French": "Si la réponse ci-dessus ne couvre pas tout ce que vous avez écrit pendant l'attente, reposez "
              "la question.",
    "Spanish": "Si la respuesta anterior no contesta todo lo que escribió mientras esperaba, vuelva a "
               "preguntarlo.",
    "Italian": "Se la risposta qui sopra non risponde a tutto ciò che ha scritto durante l'attesa, lo chieda "
               "di nuovo.",
    "Dutch": "Als het antwoord hierboven niet alles beantwoordt wat u tijdens het wachten schreef, stel het "
             "dan opnieuw.",
    "Portuguese": "Se a resposta acima não respondeu a tudo o que escreveu enquanto esperava, volte a "
                  "perguntar.",
}

# a whole message of thanks, a greeting or a goodbye in another language: the words that make each
# kind, the words that may come with them ("vielen", "beaucoup"), and the replies
COURTESY = {
    "German": ({"thanks": "danke dankeschön dankeschoen dank", "greeting": "hallo guten",
                "bye": "tschüss tschüs tschuss tschuess wiedersehen"},
               "vielen schön schoen sehr tag morgen abend auf ok okay super perfekt prima klar alles gut",
               {"thanks": "Gern geschehen!", "greeting": "Hallo!", "bye": "Auf Wiedersehen!"}),
    "French": ({"thanks": "merci", "greeting": "bonjour bonsoir salut", "bye": "revoir"},
               "beaucoup bien au ok d accord parfait super top très tres",
               {"thanks": "Je vous en prie !", "greeting": "Bonjour !", "bye": "Au revoir !"}),
    "Spanish": ({"thanks": "gracias", "greeting": "hola buenos buenas", "bye": "adiós adios luego"},
                "muchas días dias tardes noches hasta ok vale perfecto genial muy bien",
                {"thanks": "¡De nada!", "greeting": "¡Hola!", "bye": "¡Adiós!"}),
    "Italian": ({"thanks": "grazie", "greeting": "ciao buongiorno buonasera salve", "bye": "arrivederci"},
                "mille tante ok perfetto bene benissimo",
                {"thanks": "Prego!", "greeting": "Ciao!", "bye": "Arrivederci!"}),  # "ciao": hello and bye
    "Dutch": ({"thanks": "bedankt dank", "greeting": "hoi goedemorgen goedemiddag goedenavond", "bye": "doei ziens"},
              "je u wel tot ok oké prima top super",
              {"thanks": "Graag gedaan!", "greeting": "Hallo!", "bye": "Tot ziens!"}),
    "Portuguese": ({"thanks": "obrigado obrigada", "greeting": "olá ola bom boa", "bye": "adeus tchau logo"},
                   "muito dia tarde noite até ate ok ótimo otimo perfeito",
                   {"thanks": "De nada!", "greeting": "Olá!", "bye": "Adeus!"}),
}


def courtesy_in_other_language(message: str, english: dict[str, str]) -> str | None:
    """The reply to a message that is only thanks, a greeting or a goodbye in one of the
    ``COURTESY`` languages: theirs, then ``english`` (``{"thanks": ..., "greeting": ...,
    "bye": ...}``, the shop's replies); None for anything else.

    >>> print(courtesy_in_other_language("Vielen Dank!", {"thanks": "You're welcome!"}))
    Gern geschehen!
    <BLANKLINE>
    You're welcome!
    >>> courtesy_in_other_language("danke, wo ist meine Bestellung?", {}) is None
    True

    subtle: a German customer's "Danke!" after an agent's reply and release was handed off as a
    question the knowledge base never mentions, and told so in English.
    """
    words = re.findall(r"[^\W\d_]+", message.lower())
    for kinds, fillers, replies in COURTESY.values():
        made = [kind for kind in ("bye", "thanks", "greeting") if set(words) & set(kinds[kind].split())]
        allowed = set(fillers.split()).union(*(k.split() for k in kinds.values()))
        if made and set(words) <= allowed:
            return f"{replies[made[0]]}\n\n{english[made[0]]}" if made[0] in english else replies[made[0]]
    return None


def released_text(written: str | None, shop: str | None, unanswered: bool, replied: bool = False) -> str:
    """What the customer's chat says when an agent releases it (with ``unanswered``: they wrote
    while waiting, and no reply came after it; with ``replied`` too, the agent's reply comes with
    the release and may have answered it), in their language ``written`` and then the shop's, as
    :func:`in_their_language`; else in the shop's language, or English where these texts lack it.

    >>> print(released_text(None, "English", unanswered=True))  # doctest: +NORMALIZE_WHITESPACE
    A colleague has handed this conversation back to me. Ask me anything here; if I can't answer,
    I'll pass you on again. What you wrote while waiting has not been answered: please ask it
    again if you still need an answer.
    """
    extra = PARTLY_ANSWERED_TEXTS if replied else UNANSWERED_TEXTS
    texts = {lang: f"{text} {extra[lang]}" if unanswered else text for lang, text in RELEASED_TEXTS.items()}
    return in_their_language(texts, written, shop) or texts.get(shop or "", texts["English"])


def written_in(turns: Iterable[Turn]) -> str | None:
    """The language the customer writes in a conversation: of all their messages together (one
    short message alone, "Hallo??", tells none)."""
    return language(" ".join(t.question for t in turns if t.question))


def replied_label(written: str | None, shop: str | None) -> str:
    """The label above an agent's reply: in the customer's language ``written``, else the shop's,
    else English (a label, unlike a message, is not given twice).

    >>> replied_label("German", "English")
    'Ein Kollege hat geantwortet'
    >>> replied_label(None, "Klingon")
    'A colleague replied'
    """
    return REPLIED_LABELS.get(written or "") or REPLIED_LABELS.get(shop or "") or REPLIED_LABELS["English"]


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
