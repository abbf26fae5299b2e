"""Each intent's answer template: the FAQ it is linked to, first by the embedding of its examples
(:func:`link_templates`), then checked by the trained intent model (:func:`checked_links`); and
the intents' examples as questions about their linked documents (:func:`linked_queries`)."""

from __future__ import annotations

import numpy as np

from shared import Embedder, LabelledText

from .intents import KB_LABEL, IntentModel


def link_templates(rows: list[LabelledText], faqs: list[tuple[str, str, str]],
                   embedder: Embedder, oos_label: str = "oos", floor: float = 0.5) -> dict:
    """Each intent -> the FAQ closest to the centroid of its examples: by the mean of the cosines
    to the FAQ's question and to its question and answer together. Each FAQ goes to one intent,
    the closest; an intent whose FAQ another holds closer takes its next. Links below ``floor``
    are left out: that intent then answers by retrieval.

    subtle: an audit's social_tariff examples ("i'm on universal credit is there a discount", "low
    income broadband") were closer to the question "How much does broadband cost?" (0.71) than to
    "Do you have a social tariff?" (0.46), whose answer names Universal Credit (0.72 with it).
    Linked to the prices FAQ, which broadband_prices held closer (0.89), the intent lost its link,
    and its own FAQ's question was taught as the knowledge base's.
    """
    intents = sorted({r.label for r in rows} - {oos_label})
    if not faqs or not intents:
        return {}
    questions = embedder.encode([q for _, q, _ in faqs])
    whole = embedder.encode([f"{q} {a}" for _, q, a in faqs])
    scores = {}
    for intent in intents:
        vecs = embedder.encode([r.text for r in rows if r.label == intent])
        centroid = vecs.mean(0) / max(np.linalg.norm(vecs.mean(0)), 1e-9)
        scores[intent] = (questions @ centroid + whole @ centroid) / 2
    links: dict[str, str] = {}
    for score, intent, j in sorted(((float(scores[i][j]), i, j) for i in intents for j in range(len(faqs))),
                                   reverse=True):
        if score < floor:
            break
        if intent not in links and faqs[j][0] not in links.values():
            links[intent] = faqs[j][0]
    return links


def checked_links(model: IntentModel, faqs: list[tuple[str, str, str]], templates: dict,
                  oos_label: str = "oos", floor: float = 0.5) -> dict:
    """The links of :func:`link_templates`, checked by the fine-tuned intent classifier on each
    FAQ's question: an intent keeps its embedding link when, of the intents, the classifier
    puts that FAQ's question in this one; otherwise it gets the FAQ whose question it wins
    with the highest probability (at least ``floor``), or none (it answers by retrieval).

    subtle: the example centroid, by the FAQs' questions alone and before one FAQ went to one
    intent, linked Bitext's change_order to the cancel-order FAQ and create_account to the
    switch-account one, so those sure intents answered with the wrong template. subtle: the other
    way round, a small demo model put "Which payment methods do you accept?" in the knowledge
    base's class (0.79; payment_methods 0.21) and won "What is Tandem Pay Later?" for
    payment_methods: relinked to the question it won, the Pay Later FAQ became the payment
    template, left only where search overruled it.
    """
    if not faqs:
        return {}
    probs = model.predict_proba([q for _, q, _ in faqs])
    won = [model.labels[int(row.argmax())] if row.max() >= floor else None for row in probs]
    intent_columns = [j for j, label in enumerate(model.labels) if label not in (oos_label, KB_LABEL)]
    doc_ids, links = [d for d, _, _ in faqs], {}
    for intent in sorted(set(templates) | set(model.labels) - {oos_label, KB_LABEL}):
        linked = templates.get(intent)
        if linked in doc_ids:
            row = probs[doc_ids.index(linked)]
            if model.labels[max(intent_columns, key=lambda j: row[j])] == intent:
                links[intent] = linked
                continue
        mine = [i for i, label in enumerate(won) if label == intent]
        if mine:
            j = model.labels.index(intent)
            links[intent] = doc_ids[max(mine, key=lambda i: probs[i, j])]
    return links


def linked_queries(rows: list[LabelledText], templates: dict,
                   per_intent: int | None = None) -> list[tuple[str, str]]:
    """``(question, doc_id)`` for examples whose intent has a linked document (the first
    ``per_intent`` of each intent when given)."""
    seen: dict[str, int] = {}
    out = []
    for r in rows:
        if r.label in templates and seen.get(r.label, 0) < (per_intent or len(rows)):
            seen[r.label] = seen.get(r.label, 0) + 1
            out.append((r.text, templates[r.label]))
    return out
