"""The knowledge base: documents from FAQ CSVs, KB CSV/JSONL or Markdown folders, and their chunks.

A document is what a user adds and removes (one FAQ pair, one article, one Markdown file); a
chunk is what is indexed and cited. ``content_hash`` lets re-adding a changed document replace
exactly its chunks and leave unchanged ones alone.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from shared import read_table
from shared.data import file_row, read_text_file
from shared.errors import DataError

from .markdown import HTML_CODE, HTML_TAG, read_markdown

KB_SUFFIXES = (".csv", ".jsonl", ".md", ".markdown")
CHUNK_WORDS = 50  # the most words a chunk packs (see chunk_document)
MAX_BAD_LISTED = 10  # a folder's unreadable files named in its error
# a cell written in HTML: a closing tag, or a line break, of HTML's own
_HTML = re.compile(r"</(?:p|div|span|a|b|i|em|strong|li|ul|ol|h[1-6]|table|tr|td|th|blockquote)\s*>|<br\s*/?>", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


@dataclass
class Document:
    """One knowledge-base document. ``kind`` is ``faq``, ``article`` or ``markdown``."""

    doc_id: str
    title: str
    text: str
    url: str = ""
    source: str = ""
    kind: str = "article"

    def __post_init__(self) -> None:
        if not self.doc_id.strip():
            raise ValueError("doc_id must not be empty")
        if not self.text.strip():
            raise ValueError(f"document {self.doc_id!r} has no text")

    @property
    def content_hash(self) -> str:
        """16 hex chars over everything a chunk or citation shows, and how chunks are cut (a
        knowledge base added before a change of ``CHUNK_WORDS`` is re-chunked when re-added)."""
        blob = "\x1f".join((self.title, self.text, self.url, f"chunks of {CHUNK_WORDS} words, long sentences cut"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


@dataclass
class Chunk:
    """A passage of a document: what is embedded, searched and cited."""

    doc_id: str
    ordinal: int
    text: str
    title: str = ""
    url: str = ""
    chunk_id: int | None = None
    meta: dict = field(default_factory=dict)

    @property
    def search_text(self) -> str:
        """Title plus passage: the title carries the question for FAQ answers."""
        return f"{self.title}\n{self.text}" if self.title else self.text


def slug(text: str, limit: int = 60) -> str:
    """A stable, readable id from free text: ``"How do I X?" -> "how-do-i-x"``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].rstrip("-")


def faq_id(question: str) -> str:
    """``"How do I X?"`` -> ``"faq-how-do-i-x"``. A question with letters the slug drops (another
    script: ``"Срок действия карты Visa?"``) gets a hash of its text too, or all such questions
    would share ``"faq-"`` or ``"faq-visa"``."""
    readable = slug(question) if re.search("[a-z]", question.lower()) else ""
    if readable and not any(ch.isalpha() and not ch.isascii() for ch in question):
        return f"faq-{readable}"
    digest = _digest(question)
    return f"faq-{readable}-{digest[:8]}" if readable else f"faq-{digest[:12]}"


def faq_ids(rows: list[dict]) -> list[str]:
    """Each FAQ row's id: its ``id`` cell, else :func:`faq_id` of its question. subtle: two long
    questions that differ only past the id's 60 characters ("... if I am not the owner?" / "... if
    I am the owner?") had one id, and the file was refused: such cut ids end in their question's
    hash. Any other id is as it was (a template links to it; one question written twice, or
    with and without its "?", is refused as a duplicate)."""
    made = [row.get("id") or faq_id(row["question"]) for row in rows]
    cut: dict[str, set[str]] = {}  # made id -> the questions whose slug it cut
    for made_id, row in zip(made, rows, strict=True):
        if not row.get("id") and len(slug(row["question"], limit=10**6)) > len(made_id.removeprefix("faq-")):
            cut.setdefault(made_id, set()).add(row["question"].strip())
    return [f"{made_id}-{_digest(row['question'])[:8]}" if len(cut.get(made_id, ())) > 1 else made_id
            for made_id, row in zip(made, rows, strict=True)]


def _digest(text: str) -> str:
    return hashlib.sha1(text.strip().encode("utf-8")).hexdigest()


def split_sentences(text: str) -> list[str]:
    """Split on sentence ends followed by a capital or digit; keeps abbreviations mostly intact."""
    parts: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        para = " ".join(para.split())
        parts += [s for s in _SENTENCE_END.split(para) if s]
    return parts


# a table row as the Markdown reader writes it: "Site: Mill Lane; Saturday: 9:00 to 14:00."
ROW = re.compile(r"[^:;]{1,40}: ([^;]{1,60}); ")


def chunk_document(doc: Document, max_words: int = CHUNK_WORDS, overlap: int = 1) -> list[Chunk]:
    """Greedy sentence packing up to ``max_words``, repeating ``overlap`` sentences between chunks.

    A 300-word article gives about seven chunks; a short FAQ answer gives one.

    subtle: a chunk's vector is the mean of its words, so one answering sentence in a long chunk
    is diluted by the rest ("which way does the left pedal screw in" reached cosine 0.27 with
    the 120-word assembly chunk, under the hand-off floor). On the 179-turn demo review, blind
    graded where the two bots differed, 50-word chunks answered 29 of 37 turns right against
    21 with 120-word chunks, and handed off none of them wrongly (against 5).
    """
    # subtle: a "sentence" longer than a chunk (a text without full stops, or with sentences
    # that start in lower case) is cut into chunk-sized runs of words; whole, a 3.6 MB cell
    # became one chunk, embedded by its first tokens and quoted in full
    sentences = [" ".join(words[i : i + max_words]) for s in split_sentences(doc.text)
                 for words in [s.split()] for i in range(0, len(words), max_words)]
    chunks: list[list[str]] = []
    current: list[str] = []
    for i, sentence in enumerate(sentences):
        words = sum(len(s.split()) for s in current)
        table = current and _table_starts_too_late(sentences, i, words, max_words)
        if current and (table or words + len(sentence.split()) > max_words):
            chunks.append(current)
            current = current[-overlap:] if overlap and not table else []  # a small table starts afresh
            if sum(len(s.split()) for s in current) + len(sentence.split()) > max_words:
                current = []  # no room to repeat a long sentence
        current.append(sentence)
    if current and (not chunks or current != chunks[-1][-len(current):]):
        chunks.append(current)
    return [
        Chunk(doc.doc_id, i, " ".join(c), title=doc.title, url=doc.url)
        for i, c in enumerate(chunks)
    ]


def _table_starts_too_late(sentences: list[str], i: int, words: int, max_words: int) -> bool:
    """Whether sentence ``i`` opens a table (a run of rows, :data:`ROW`) that fits a chunk of its
    own but not the ``words`` already in the current one: it starts a new chunk then, so a small
    table stays whole. subtle: "What are your opening hours?" was quoted the prose before the hours
    table and Mill Lane's row, the chunk's last; the Quayside row had gone to the next chunk."""
    if not ROW.match(sentences[i]) or (i and ROW.match(sentences[i - 1])):
        return False
    run = 0
    for sentence in sentences[i:]:
        if not ROW.match(sentence):
            break
        run += len(sentence.split())
    return run <= max_words < words + run


def _header(path: Path) -> list[str]:
    """Column names of a CSV header or a JSONL first object, with a clear error on binary files."""
    # blank lines before the header are skipped, as read_table skips them
    lines = enumerate(read_text_file(path, "a CSV/JSONL file").splitlines(), 1)
    row, first = next(((n, line) for n, line in lines if line.strip()), (1, ""))
    if not first:
        raise DataError(path, None, "the file is empty",
                        "add a header and rows: question,answer (FAQ) or id,title,text[,url] (articles)")
    if path.suffix.lower() == ".jsonl":
        try:
            record = json.loads(first)
        except json.JSONDecodeError as err:
            raise DataError(path, row, "not a JSON object", "one JSON object per line") from err
        if not isinstance(record, dict):
            raise DataError(path, row, "not a JSON object", "one JSON object per line")
        return [str(key).lower() for key in record]
    return [c.strip().strip('"').lower() for c in first.strip().split(",")]


def _check_unique(path: Path, ids: list[str], questions: list[str] | None = None) -> None:
    """Refuse a file naming one id twice; ``questions``: an FAQ's, whose ids are made from them
    where no ``id`` is given (an admin who set none had been told to give each its own id)."""
    seen: dict[str, int] = {}
    for position, doc_id in enumerate(ids):
        if doc_id in seen:  # rows as the file numbers them, blank lines counted
            first = file_row(path, seen[doc_id])
            if questions is not None and doc_id == faq_id(questions[position]):
                raise DataError(path, file_row(path, position), f"the question {questions[position].strip()!r} "
                                f"is asked twice (first at row {first})", "merge the two rows, or reword one")
            raise DataError(path, file_row(path, position), f"duplicate id {doc_id!r} (first at row {first})",
                            "give every document its own id")
        seen[doc_id] = position


def _check_urls(path: Path, urls: list[str]) -> None:
    """Every link a citation will show is a web address (an empty cell: none)."""
    for position, url in enumerate(urls):
        if url.strip() and not re.match(r"https?://\S+$", url.strip()):
            raise DataError(path, file_row(path, position), f"url must be a web address (http:// or https://), "
                            f"got {url!r}", "fix it or leave the cell empty: citations show it to customers")


def html_text(text: str) -> str:
    r"""A cell of HTML, as help-desks export articles, as the text a customer reads (a cell with no
    tag is left as it is): a block's end ends a paragraph, other tags go, entities are read.

    >>> html_text('<p>Deleting is <b>permanent</b>.</p><p>See the <a href="/x">grace period</a> &amp; more.</p>')
    'Deleting is permanent.\n\nSee the grace period & more.'
    """
    if not _HTML.search(text):  # subtle: "track/<order-number>" and "<your name>" are no tags
        return text
    text = re.sub(r"<br\s*/?>", "\n", text, flags=re.I)
    text = re.sub(r"</(?:p|div|li|h[1-6]|tr|table|ul|ol|blockquote)\s*>", "\n\n", text, flags=re.I)
    text = re.sub(r"</?(?:td|th|ul|ol|li|table|tr)\b[^<>]*>", " ", text, flags=re.I)  # "Germany</td><td>19%"
    return re.sub(r"\n{3,}", "\n\n", html.unescape(HTML_TAG.sub("", HTML_CODE.sub("", text)))).strip()


def load_table_kb(path: Path) -> list[Document]:
    """FAQ CSV (``question,answer``) or KB CSV/JSONL (``id,title,text[,url]``)."""
    columns = _header(path)
    if "question" in columns and "answer" in columns:
        frame = read_table(path, ["question", "answer"], ["id", "url"])
        _check_urls(path, list(frame.get("url", [])))
        ids = faq_ids(frame.to_dict("records"))
        _check_unique(path, ids, list(frame["question"]))
        return [
            Document(i, r["question"].strip(), html_text(r["answer"]).strip(), r.get("url") or "",
                     str(path.resolve()), "faq")
            for i, r in zip(ids, frame.to_dict("records"), strict=True)
        ]
    if {"id", "text"} <= set(columns):
        frame = read_table(path, ["id", "text"], ["title", "url"])
        _check_urls(path, list(frame.get("url", [])))
        _check_unique(path, list(frame["id"]))
        return [
            Document(r["id"].strip(), (r.get("title") or r["id"]).strip(), html_text(r["text"]).strip(),
                     r.get("url") or "", str(path.resolve()), "article")
            for r in frame.to_dict("records")
        ]
    if len(columns) == 1 and re.search(r"[;\t|]", columns[0]):  # "question;answer": read_table names the separator
        read_table(path, ["question", "answer"])
    raise DataError(path, None, f"unknown knowledge-base columns {columns}",
                    "use question,answer[,id,url] (FAQ) or id,title,text[,url] (articles)")


def load_markdown(path: Path, root: Path | None = None) -> Document:
    """One Markdown file -> one document (:func:`.markdown.read_markdown`); its id is its path
    under ``root`` without the suffix ("guides/gift-cards"), else its name."""
    title, text, url = read_markdown(path)
    doc_id = str(path.relative_to(root).with_suffix("")) if root else path.stem
    return Document(doc_id, title, text, url, str(path.resolve()), "markdown")


_SYSTEM_FILES = ("thumbs.db", "desktop.ini")  # what Windows leaves in a folder: no article to name


def _folder_files(path: Path) -> list[Path]:
    """A folder's files, less its hidden files and folders (".git") and its README (notes for
    whoever keeps the folder: "run make sync" was quoted to a customer)."""
    return sorted(p for p in path.rglob("*") if p.is_file() and p.name.lower() not in ("readme.md", "readme.markdown")
                  and not any(part.startswith(".") for part in p.relative_to(path).parts))


def skipped_files(path: str | Path) -> list[str]:
    """The files of a folder :func:`load_kb` leaves out for their type (a PDF, an image), by
    their path in it; none for a file. subtle: a folder's manual.pdf was skipped without a word."""
    path = Path(path)
    if not path.is_dir():
        return []
    return [str(p.relative_to(path)) for p in _folder_files(path) if p.suffix.lower() not in KB_SUFFIXES
            and not p.name.lower().startswith("readme") and p.name.lower() not in _SYSTEM_FILES]


def load_kb(path: str | Path) -> list[Document]:
    """Every document under ``path`` (a file or a folder of supported files), ids unique."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, None, "no such file or folder", "check the path")
    # "FAQ.CSV" is one
    files = [p for p in _folder_files(path) if p.suffix.lower() in KB_SUFFIXES] if path.is_dir() else [path]
    if not files:
        raise DataError(path, None, "no knowledge-base files found",
                        f"add files ending in {', '.join(KB_SUFFIXES)}")
    docs: list[Document] = []
    bad: list[DataError] = []
    for file in files:
        try:
            if file.suffix.lower() in (".md", ".markdown"):
                docs.append(load_markdown(file, path if path.is_dir() else None))
            elif file.suffix.lower() in (".csv", ".jsonl"):
                docs += load_table_kb(file)
            else:
                raise DataError(file, None, f"unsupported file type {file.suffix!r}",
                                f"use one of {', '.join(KB_SUFFIXES)}")
        except DataError as err:
            if not path.is_dir():
                raise
            bad.append(err)
    # a folder goes in whole or not at all, and says so; subtle: it named its first bad file
    # only, so a folder of 261 files took a rerun per bad one
    if len(bad) == 1:
        err = bad[0]
        raise DataError(err.path, err.row, err.problem, "; ".join(
            filter(None, [err.fix, f"nothing from {path} was added"])), err.unit)
    if bad:
        listed = " | ".join(str(err) for err in bad[:MAX_BAD_LISTED]) + (
            f" | and {len(bad) - MAX_BAD_LISTED} more" if len(bad) > MAX_BAD_LISTED else "")
        raise DataError(path, None, f"{len(bad)} files cannot be read: {listed}",
                        f"mend them or move them out; nothing from {path} was added")
    first: dict[str, str] = {}
    for doc in docs:  # each file checked its own ids; here two files claim one
        if doc.doc_id in first:
            raise DataError(Path(doc.source), None, f"document id {doc.doc_id!r} is also used in "
                            f"{first[doc.doc_id]}", f"give every document its own id; nothing from {path} was added")
        first[doc.doc_id] = doc.source
    return docs


def keep_ids(documents: list[Document], earlier: dict[str, tuple[str, str, str]], alone: bool) -> list[Document]:
    """Markdown ``documents`` keep the ids they have in the KB (``earlier``: ``{doc_id: (source
    file, title, text)}``), so an edited guide replaces its old text: the id of the document read
    from the same file (a subfolder added on its own keeps "sub/student", not "student"), else,
    for a file added ``alone``, that of the only document of its file name and title whose text
    it edits ("guides/gift-cards" for an edited "gift-cards.md"). Another file's Markdown
    document under the same id with another title is not replaced, by a document of any kind: refused.

    subtle: added alone (as every dashboard upload is), a guide was a second document, and
    the bot cited the old text beside the new; a subfolder added after its folder took the
    id "student" from the folder's own student.md and replaced it; an unrelated "refunds.md"
    titled "Refunds" replaced the billing folder's, whose text was lost."""
    by_file = {source: i for i, (source, _, _) in earlier.items()}
    alone = alone and len(documents) == 1
    kept = []
    for doc in documents:
        if doc.kind == "markdown" and doc.source in by_file:
            doc = replace(doc, doc_id=by_file[doc.source])
        elif doc.kind == "markdown" and alone:
            named = [i for i, (_, title, text) in earlier.items()
                     if (i == doc.doc_id or i.endswith("/" + doc.doc_id)) and title == doc.title
                     and edits(text, doc.text)]
            doc = replace(doc, doc_id=named[0]) if len(named) == 1 else doc
        # subtle: a KB table's row was let through, and an article titled otherwise was lost
        if doc.doc_id in earlier and earlier[doc.doc_id][0] != doc.source and earlier[doc.doc_id][1] != doc.title:
            source, title, _ = earlier[doc.doc_id]
            whose, fix = ("this file's", "rename the file") if doc.kind == "markdown" else \
                ("its row's", "give the row another id")
            raise DataError(doc.source, None, f"document id {doc.doc_id!r} is {title!r} from {source} "
                            f"already, and {whose} title is {doc.title!r}", f"{fix}, or remove "
                            f"that document first (`verticals support kb remove {doc.doc_id}`)")
        kept.append(doc)
    return kept


def edits(old: str, new: str) -> bool:
    """Whether ``new`` reads as an edit of ``old``: half the words (of three letters or more) of
    the shorter or more are in the other. An edited guide keeps most, however short ("open 9 to 5"
    -> "open 8 to 6"), and so does one read by an earlier version of the Markdown reader; another
    article under the same title shares its subject's words only.

    >>> edits("We are open 9 to 5 on weekdays.", "We are open 8 to 6 on weekdays.")
    True
    >>> edits("Prepaid credit is refunded to your account as credit.",
    ...       "Return the Edge box within 30 days for a refund to your card.")
    False
    """
    old_words, new_words = (set(re.findall(r"[^\W\d_]{3,}", text.lower())) for text in (old, new))
    shorter = min(len(old_words), len(new_words))
    return old == new or (shorter > 0 and len(old_words & new_words) >= shorter / 2)


def read_questions(path: str | Path, known: set[str], kb: str | Path | None = None) -> list[tuple[str, str]]:
    """``(query, relevant_id)`` rows of a labelled-questions CSV, each id a document of the KB
    (``known``: the bot's, or that read from ``kb``); an unknown id is a one-line error naming
    its row."""
    frame = read_table(path, ["query", "relevant_id"])
    pairs = [(q.strip(), d.strip()) for q, d in zip(frame["query"], frame["relevant_id"],
                                                     strict=True)]
    for row, (_, doc_id) in enumerate(pairs, start=2):
        if doc_id not in known:
            where = f"of {kb}" if kb else "of the KB"
            fix = (f"use the ids of {kb}'s documents (a FAQ's is its question as a slug, "
                   "faq-how-do-i-x; a Markdown file's its path under the folder, without .md)") if kb else \
                "use the ids that `verticals support kb list` shows"
            raise DataError(path, row, f"relevant_id {doc_id!r} is not a document {where}", fix)
    return pairs
