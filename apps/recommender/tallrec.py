"""TALLRec's CTR questions (a JSON list of ``{instruction, input, output}``): will a user who
liked and disliked these titles like the target? Read into :class:`CtrExample` s, and into the
recommender's items and interactions (:func:`tallrec_dataset`) for ``verticals recommend convert``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from shared.errors import DataError


@dataclass(frozen=True)
class CtrExample:
    """One TALLRec-style question: will a user who liked / disliked these like ``target``?"""

    liked: tuple[str, ...]
    disliked: tuple[str, ...]
    target: str
    label: int


_BOOK = re.compile(r'^"(.*)" written by (.*)$')
_TARGET = re.compile(r"^Whether the user will like the target \S+ (.*)$")  # movie/book "T"?


def _titles(line: str) -> tuple[str, ...]:
    """``'"Heat (1995)", "Fargo (1996)"' -> ("Heat (1995)", "Fargo (1996)")``; books keep authors.

    Entries are separated by ``, "`` in both layouts (movies: ``"T", "T"``; books:
    ``"T" written by A, "T" written by A``).
    """
    found = []
    for piece in re.split(r', (?=")', line.strip()):
        book = _BOOK.match(piece.strip())
        title = f"{book[1]} by {book[2].strip()}" if book else piece.strip().strip('"')
        if title.strip():
            found.append(title.strip())
    return tuple(found)


def parse_ctr_input(text: str) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """Split a TALLRec ``input`` into (liked titles, disliked titles, target title); the target
    is ``""`` when the input names none."""
    parts = {"pref": "", "unpref": "", "target": ""}
    for line in text.splitlines():
        if line.startswith("User Preference:"):
            parts["pref"] = line.split(":", 1)[1]
        elif line.startswith("User Unpreference:"):
            parts["unpref"] = line.split(":", 1)[1]
        elif line.startswith("Whether the user will like the target"):
            found = _TARGET.match(line.strip())  # no match (no title): "" -> the caller's error
            parts["target"] = found[1].rstrip("?").strip() if found else ""
    target = parts["target"]
    if target.startswith('"') and target.endswith('"'):
        target = target[1:-1]
    book = _BOOK.match(target)
    target = f"{book[1]} by {book[2].strip()}" if book else target
    return _titles(parts["pref"]), _titles(parts["unpref"]), target


def load_tallrec(path: str | Path) -> list[CtrExample]:
    """TALLRec JSON (a list of ``{instruction, input, output}``) -> :class:`CtrExample` s."""
    path = Path(path)
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(path, None, f"cannot read TALLRec JSON ({err})",
                        "pass a JSON list of {instruction, input, output} objects") from None
    if not isinstance(records, list):
        raise DataError(path, None, f"top level must be a list of records, got "
                        f"{type(records).__name__}",
                        "pass a JSON list of {instruction, input, output} objects")
    examples = []
    for row, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise DataError(path, row, f"record must be an object with 'input' and 'output', "
                            f"got {type(record).__name__}", "fix or drop the record")
        if missing := [key for key in ("input", "output") if key not in record]:
            raise DataError(path, row, f"record has no {' or '.join(repr(k) for k in missing)}",
                            "fix or drop the record")
        given = str(record["output"]).strip()
        answer = given.lower()
        if answer not in ("yes.", "no.", "yes", "no"):
            raise DataError(path, row, f"output must be 'Yes.' or 'No.', got {given!r}",
                            "fix or drop the record")
        liked, disliked, target = parse_ctr_input(str(record["input"]))
        if not target:
            raise DataError(path, row, "no target title in 'input'", "end the input with a "
                            'line like: Whether the user will like the target movie "Title"?')
        examples.append(CtrExample(liked, disliked, target, int(answer.startswith("yes"))))
    if not examples:
        raise DataError(path, None, "has no records", "add at least one record")
    return examples


def tallrec_dataset(examples: list[CtrExample], prefix: str = "u") -> tuple[pd.DataFrame, pd.DataFrame]:
    """TALLRec examples -> (items, interactions): every title an item (its id a digest of the
    title, so two files agree), each example a user (``prefix`` and its number in file order) who
    liked and disliked the titles it lists, one second apart in that order, then took (1) or
    passed on (0) the target.

    >>> items, rows = tallrec_dataset([CtrExample(("Heat (1995)",), ("Cats (2019)",), "Up (2009)", 1)])
    >>> rows[["user_id", "label", "timestamp"]].values.tolist()
    [['u1', 1, 1], ['u1', 0, 2], ['u1', 1, 3]]
    """
    ids: dict[str, str] = {}
    rows = []
    for number, example in enumerate(examples, start=1):
        taken = [(t, 1) for t in example.liked] + [(t, 0) for t in example.disliked] + \
            [(example.target, example.label)]
        for second, (title, label) in enumerate(taken, start=1):
            item = ids.setdefault(title, "t" + hashlib.sha1(title.encode()).hexdigest()[:10])
            rows.append((f"{prefix}{number}", item, label, second))
    items = pd.DataFrame({"item_id": list(ids.values()), "title": list(ids), "description": "", "category": ""})
    interactions = pd.DataFrame(rows, columns=["user_id", "item_id", "label", "timestamp"])
    return items, interactions.drop_duplicates(["user_id", "item_id", "timestamp"])


def check_both_answers(examples: list[CtrExample], path: str | Path) -> None:
    """Fail unless ``examples`` hold both Yes and No answers (training and AUC need both)."""
    answers = {e.label for e in examples}
    if len(answers) < 2:
        only, other = ("Yes.", "No.") if answers == {1} else ("No.", "Yes.")
        raise DataError(path, None, f"every record answers {only!r}; training and AUC need "
                        "both answers", f"add records answered {other!r}")
