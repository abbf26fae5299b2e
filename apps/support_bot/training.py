"""Training the bot end to end: link intents to FAQ answers, tune the retriever (kept only if it
beats the base encoder on held-out questions), train a cross-encoder reranker on hard negatives
mined by the retriever, fine-tune and calibrate the intent classifier, calibrate the retrieval
fusion weight and answer threshold, and check the FAQ links with the trained intent model.
Labelled questions about any document (optional) train the retriever and reranker beside the
intent examples and join the held-out questions. Everything calibrated lands in the intent
model's card."""

from __future__ import annotations

import random
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

from shared import LabelledText, file_digest, fingerprint, resolve_model
from shared.data import case_label_notes, thin_label_notes
from shared.export import CHECK_TEXTS
from shared.finetune import check_layers

from .intents import (
    INTENTS,
    KB_LABEL,
    IntentModel,
    IntentTraining,
    Status,
    Thresholds,
    decide,
    intent_config,
    read_intents,
    split_calibration,
    train_intents,
)
from .knowledge import CHUNK_WORDS, load_kb, read_questions
from .questions import same_words
from .retrieval import Retriever
from .retrieval_tuning import RetrievalTuner
from .service import BotSettings, SupportService
from .template_links import checked_links, link_templates, linked_queries


@dataclass
class TrainOptions:
    """The training recipe; small defaults that finish in about a minute on 2 CPU cores."""

    epochs: int = 8
    max_length: int = 32
    layers: int | None = None  # the intent model from the base's first N layers (None: all)
    tune_retriever: bool = True
    reranker: bool = True
    reranker_epochs: int = 3
    reranker_max_length: int = 64
    # subtle: the base's first 2 of 6 layers rerank 3x faster; on an earlier demo set's held-out
    # questions they lifted MRR@10 0.742 -> 0.780 (all 6: 0.814), and answers at 10k passages
    # took p50 ~26 ms instead of ~48 ms (benchmarks/support.py --parts latency, on the Xeon,
    # before the serving path's later speed-ups)
    reranker_layers: int | None = 2
    negatives: int = 2
    # examples per intent used as reranker/retriever training questions. subtle: with 6, the
    # Bitext bot's reranker (27 intents, ~600 pairs) learned nothing past "mostly not relevant"
    # (held-out MRR@10 0.896 hybrid -> 0.83 reranked); with 30 (~3,300 pairs) it ties there
    # and, serving 10k passages, lifts recall@1 0.900 -> 0.921 (benchmarks/support.py
    # --parts trained-bot); training takes 438 s instead of 217 s there, ~20 s more on the demo
    per_intent: int = 30
    export: bool = True  # int8/ONNX forms for fast CPU serving (checked against torch)
    oos_label: str = "oos"

    def __post_init__(self) -> None:
        for name in ("epochs", "reranker_epochs", "negatives", "per_intent"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


def trained_on(intents_path: str | Path, questions_path: str | Path | None,
               documents: list[dict], options: TrainOptions, lessons: Sequence[LabelledText] = ()) -> dict:
    """What a bot is trained from, for its card: the intents file's path and one fingerprint
    of both files' bytes, the knowledge base's documents (ids and content hashes), the lessons
    taught from the gaps, the recipe and the chunk size. ``support demo`` retrains a demo bot
    whose inputs changed."""
    files = [file_digest(intents_path), file_digest(questions_path) if questions_path else None]
    kb = sorted((d["id"], d["hash"]) for d in documents)
    taught = [(r.text, r.label) for r in lessons]
    return {"intents": str(Path(intents_path).resolve()),
            "fingerprint": fingerprint([files, kb, asdict(options), CHUNK_WORDS] + ([taught] if taught else []))}


def demo_kept(card: dict | None, demo: dict) -> str | None:
    """Why ``support demo`` keeps the bot whose intent model has ``card``; None: train the demo's
    bot (``demo`` is :func:`trained_on` the demo's files).

    subtle: a demo bot from older demo files, KB, recipe or chunk size (``kb add`` re-chunks
    a KB) is retrained, and so is one whose card predates the record; a bot trained on your
    own intents file is left alone."""
    was = (card or {}).get("trained_on", {})
    if was == demo:
        return "already trained on the demo data (delete the support-* models to retrain)"
    if not card or was.get("intents", demo["intents"]) == demo["intents"]:
        return None
    return f"kept the bot trained on {was['intents']} (delete the support-* models to train the demo's)"


def split_questions(questions: list[tuple[str, str]], seed: int = 0
                    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(train, held out): per document, a third of its questions (rounded; drawn with ``seed``)
    are held out to judge, the rest train. A document with one question only trains.

    >>> split_questions([("a", "d1"), ("b", "d1"), ("c", "d1"), ("e", "d2")])[1]
    [('a', 'd1')]
    """
    by_doc: dict[str, list[tuple[str, str]]] = {}
    for pair in questions:
        by_doc.setdefault(pair[1], []).append(pair)
    train, held = [], []
    rng = random.Random(seed)
    for doc_id in sorted(by_doc):
        pairs = by_doc[doc_id][:]
        rng.shuffle(pairs)
        n_held = round(len(pairs) / 3)
        held += pairs[:n_held]
        train += pairs[n_held:]
    return train, held


@dataclass
class _Run:
    """What one training run has found so far, for its later steps: the bot's settings as they
    are calibrated, the FAQs, the held-out ``(question, doc_id)`` pairs, the out-of-scope
    calibration questions, the retriever searching with the bot's embedder, and what the bot is
    trained on (:func:`trained_on`)."""

    bot: BotSettings
    faqs: list[tuple[str, str, str]]
    held: list[tuple[str, str]]
    oos: list[str]
    inputs: dict
    retriever: Retriever | None = None


def templateless_notes(intents: list[str], dropped: dict[str, str] | None = None) -> list[str]:
    """What training says of intents no FAQ was linked to: of those whose FAQ the intent model
    did not read as theirs (``dropped``: intent -> the FAQ's question), that FAQ, one note each.

    >>> for note in templateless_notes(["contact_us", "social"], {"social": "Do you have a social tariff?"}):
    ...     print(note)  # doctest: +NORMALIZE_WHITESPACE
    no FAQ is linked to contact_us, so search answers its questions: add an FAQ row
    (question,answer) that answers it with `support kb add`, then train again
    no FAQ is linked to social, so search answers its questions: the intent model does not read
    the FAQ "Do you have a social tariff?" as social; add examples worded like it to social's rows, then train again

    subtle: an audit's FAQ "Do you have a social tariff?", linked by the examples and dropped by
    the model's check, was told "add an FAQ row that answers it": it was there."""
    dropped = dropped or {}
    missing = [i for i in intents if i not in dropped]
    notes = [f"no FAQ is linked to {', '.join(missing)}, so search answers {'its' if len(missing) == 1 else 'their'} "
             f"questions: add an FAQ row (question,answer) that answers {'it' if len(missing) == 1 else 'each'} "
             "with `support kb add`, then train again"] if missing else []
    return notes + [f'no FAQ is linked to {i}, so search answers its questions: the intent model does not read the '
                    f'FAQ "{dropped[i]}" as {i}; add examples worded like it to {i}\'s rows, then train again'
                    for i in intents if i in dropped]


class BotTrainer:
    """Runs the steps in order on a service's KB and an intents file; the retrieval steps are
    :class:`~.retrieval_tuning.RetrievalTuner`'s."""

    def __init__(self, service: SupportService, options: TrainOptions | None = None) -> None:
        self.service, self.options = service, options or TrainOptions()
        self.report: dict = {}
        self.tuning = RetrievalTuner(service, self.options, self.report, self._log)

    def run(self, intents_path: str | Path, questions_path: str | Path | None = None,
            kb: str | Path | None = None) -> dict:
        """Train on the intents file and the KB; ``questions_path`` (``query,relevant_id``)
        adds labelled questions about the documents: the retriever and reranker learn from
        two thirds of them, and the rest judge them beside the intents' held-out questions.
        ``kb`` is added to the knowledge base first, once the intents and questions files have
        been read (a bad one changes nothing)."""
        check_layers("minilm", self.options.layers)  # before minutes of training
        if self.options.reranker:
            check_layers("minilm", self.options.reranker_layers, "--reranker-layers")
        service, opts = self.service, self.options
        rows = read_intents(intents_path)
        # subtle: an intent with one example trained for minutes without a word (the core's
        # `finetune classify` notes such labels)
        if notes := thin_label_notes(rows) + case_label_notes(rows):
            for note in notes:
                print(f"note: {note}", file=sys.stderr)
            self.report["notes"] = notes
        lessons = service.agents.lesson_rows()
        train, calib, kb_lessons = self._with_lessons(*split_calibration(rows), lessons)
        self._add_kb_and_questions(questions_path, kb)
        inputs = trained_on(intents_path, questions_path, service.store.documents(), opts, lessons)
        run = self._linked(train, calib, inputs)
        self._tune_retrieval(run, train)
        result = self._train_intents(run, train, calib, kb_lessons)
        if opts.export:
            self._export(run.bot, result.path, [r.text for r in rows])
        # the retriever and reranker the new bot names serve by name only now: a training killed
        # before had left them current (`models list`) beside the old bot, which pins its own
        for pinned in (run.bot.embedder, run.bot.reranker):
            if pinned and "@" in pinned:
                service.registry.promote(*pinned.split("@", 1))
        service.reload()
        return {"intents": f"{INTENTS}@{result.version}", "thresholds": asdict(result.thresholds),
                "intent_calibration": result.calibration, "bot": asdict(run.bot), **self.report}

    def _with_lessons(self, train: list[LabelledText], calib: list[LabelledText],
                      lessons: Sequence[LabelledText]) -> tuple[list[LabelledText], list[LabelledText], list[str]]:
        """The intents file's training and calibration rows with the lessons taught from the gaps
        (`support teach`), and the questions taught as answered by search (the knowledge base's
        class). Lessons train, never calibrate (the calibration rows become a later retrain's
        fixed evaluation set); a lesson replaces the file's row of the same question in either;
        of one question taught twice the newest lesson counts; a lesson naming an intent the
        file lacks is skipped (``lessons_skipped``)."""
        newest = {same_words(r.text): r for r in lessons}  # oldest first: later ones win
        known = {r.label for r in train + calib} | {self.options.oos_label, KB_LABEL}
        taught = [r for r in newest.values() if r.label in known]
        self.report["lessons"] = len(taught)
        if len(newest) > len(taught):
            self.report["lessons_skipped"] = len(newest) - len(taught)
        replaced = {same_words(r.text) for r in taught}
        return ([r for r in train if same_words(r.text) not in replaced] + [r for r in taught if r.label != KB_LABEL],
                [r for r in calib if same_words(r.text) not in replaced],
                [r.text for r in taught if r.label == KB_LABEL])

    def _add_kb_and_questions(self, questions_path: str | Path | None, kb: str | Path | None) -> None:
        """``kb`` added to the knowledge base, and the labelled questions read and split (two
        thirds train, the rest judge)."""
        service = self.service
        if questions_path is not None:  # a bad questions file must not change the KB either
            adding = {d.doc_id for d in load_kb(kb)} if kb is not None else set()
            read_questions(questions_path, {d["id"] for d in service.store.documents()} | adding)
        if kb is not None:
            service.kb_add(kb)
        service.reload()
        if questions_path is not None:
            known = {d["id"] for d in service.store.documents()}
            self.tuning.asked, self.tuning.asked_held = split_questions(read_questions(questions_path, known))
            self.report["labelled_questions"] = {"train": len(self.tuning.asked),
                                                "held_out": len(self.tuning.asked_held)}

    def _linked(self, train: list[LabelledText], calib: list[LabelledText], inputs: dict) -> _Run:
        """The run's start: each intent linked to its FAQ template by its examples, and the
        held-out questions those links (and the labelled questions) give."""
        bot = BotSettings(chunk_words=CHUNK_WORDS)
        faqs = self.service.store.faq_pairs()
        bot.templates = link_templates(train, faqs, self.tuning.base, self.options.oos_label)
        held = linked_queries(calib, bot.templates) + self.tuning.asked_held
        oos = [r.text for r in calib if r.label == self.options.oos_label]
        return _Run(bot, faqs, held, oos, inputs)

    def _tune_retrieval(self, run: _Run, train: list[LabelledText]) -> None:
        """The retriever, the BM25 weight and the reranker, each set in ``run.bot``."""
        bot, tuning = run.bot, self.tuning
        if self.options.tune_retriever:
            bot.embedder = tuning.tune_retriever(train, bot.templates, run.held)
        retriever = run.retriever = tuning.warm_retriever(bot)
        bot.alpha = tuning.calibrate_alpha(retriever, run.held)
        retriever.config.alpha = bot.alpha
        if self.options.reranker:
            bot.reranker, bot.use_reranker = tuning.train_reranker(retriever, train, bot, run.held)
        retriever.config.use_reranker = bot.use_reranker
        retriever.config.rerank_margin = bot.rerank_margin

    def _train_intents(self, run: _Run, train: list[LabelledText], calib: list[LabelledText],
                       kb_lessons: list[str]) -> IntentTraining:
        """The intent model, with the knowledge base's class; its card gets the bot settings
        through :meth:`_finish`, with the links it checked."""
        opts = self.options
        # questions a document answers that no intent links to: the intent model learns them
        # as the knowledge base's class, and no template may claim the held-out ones
        linked = set(run.bot.templates.values())
        kb_questions = [q for q, d in self.tuning.asked + self.tuning.title_queries() if d not in linked] + \
            [q for d, q, _ in run.faqs if d not in linked] + kb_lessons
        no_template = [q for q, d in self.tuning.asked_held if d not in linked]
        self.report["knowledge_base_class_rows"] = len(kb_questions)
        config = intent_config(len(train) + len(kb_questions), opts.epochs, opts.max_length, opts.layers)
        # subtle: each model's epochs print alike ("epoch 1: loss ..."): the reranker's read as
        # the intent model's epoch 1 again
        self._log(f"the intent model: {len(train) + len(kb_questions)} examples")
        return train_intents(train, calib, INTENTS, config, opts.oos_label,
                             registry=self.service.registry, finish=partial(self._finish, run),
                             no_template=no_template, kb_questions=kb_questions, embedder=run.bot.embedder)

    def _finish(self, run: _Run, model: IntentModel, thresholds: Thresholds) -> dict:
        """What the intent model's card gets once it is trained: the template links it checked,
        the answer threshold, the bot settings and the retrieval calibration."""
        bot = run.bot
        linked = bot.templates
        bot.templates = checked_links(model, run.faqs, linked, self.options.oos_label)
        changed = sorted(k for k in set(linked) | set(bot.templates)
                         if linked.get(k) != bot.templates.get(k))
        self.report["links_changed_by_intent_model"] = changed
        if changed:
            self._log(f"the intent model changed the template links of {', '.join(changed)}")
        # subtle: the answer floor is set against the out-of-scope questions no confident
        # intent claims: near-misses a template answers ("what are the opening hours of the
        # post office", search 0.61) lifted it over answerable ones. Those handed off
        # unsearched stay, as the floor's anchors: without any, it is set on in-scope
        # answers alone, which gave 0.50 on the demo and handed off 19 answerable questions
        oos = run.oos
        decisions = decide(model.predict_proba(oos), model.labels, thresholds) if oos else []
        bot.threshold = self.tuning.calibrate_threshold(run.retriever, run.held, [
            t for t, d in zip(oos, decisions, strict=True) if d.status is not Status.CONFIDENT])
        self._log(f"calibrated: alpha={bot.alpha} reranker={bot.use_reranker} "
                  f"threshold={bot.threshold:.3f} templates={len(bot.templates)}")
        # subtle: an intent no FAQ matched was only "templates=9" of 10: its questions were
        # answered by search ("what's your email" got the privacy article), and nothing said so
        if unlinked := sorted(set(model.labels) - {self.options.oos_label, KB_LABEL} - set(bot.templates)):
            self.report["intents_without_template"] = unlinked
            questions = {d: q for d, q, _ in run.faqs}
            dropped = {i: questions[linked[i]] for i in unlinked if linked.get(i) in questions}
            if dropped:
                self.report["faqs_not_read_as_their_intent"] = dropped
            for note in templateless_notes(unlinked, dropped):
                print(f"note: {note}", file=sys.stderr)
        return {"bot": asdict(bot), "retrieval_calibration": self.report, "trained_on": run.inputs,
                "kb_documents": self.service.store.document_count()}  # what kb_drift measures change by

    @staticmethod
    def _log(message: str) -> None:
        print(f"support train: {message}", file=sys.stderr)

    def _export(self, bot: BotSettings, intents_path: Path, texts: list[str]) -> None:
        """ONNX + int8 forms of the three models; serving picks int8 only where it agreed."""
        from shared import export_model

        resolve = self.service._resolve
        texts = texts[:CHECK_TEXTS]
        targets = [("intents", intents_path, texts, None, False, self.options.max_length),
                   ("embedder", resolve_model(resolve(bot.embedder)), texts, None, True, 128)]
        if bot.reranker:
            # checked on what it serves: (question, passage) pairs
            passages = [c.search_text for c in self.service.store.chunks()][:len(texts)]
            pairs = [passages[i % len(passages)] for i in range(len(texts))] if passages else None
            targets.append(("reranker", Path(resolve(bot.reranker)), texts, pairs, False,
                            self.options.reranker_max_length))
        for label, path, check, pairs, embed, max_length in targets:
            report = export_model(Path(path), check, embed=embed, max_length=max_length,
                                  check_pairs=pairs)
            self.report[f"export_{label}"] = {k: v for k, v in report.items() if k != "kind"}
