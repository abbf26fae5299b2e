"""Reading the suite's CSV / JSONL / Parquet formats into typed records, with one-line errors."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .errors import DataError


@dataclass(frozen=True)
class LabelledText:
    """One labelled example: ``LabelledText("card was declined", "card_declined")``."""

    text: str
    label: str


SPREADSHEETS = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")  # the first bytes of .xlsx/.ods (a zip), .xls (OLE2)


def _read_frame(path: Path) -> pd.DataFrame:
    """The file as a frame of strings ("" for missing cells), indexed by spreadsheet row: the
    header is row 1 of a CSV, and a JSONL file's first record is row 1. Blank lines keep their
    numbers (and are dropped by :func:`read_table`)."""
    suffix = path.suffix.lower()
    if suffix != ".parquet" and path.is_file():
        try:
            with path.open("rb") as handle:
                first = handle.read(4)
        except OSError:
            first = b""  # read_text_file says what is wrong with it
        # subtle: an .xlsx (a zip) read "line 1: not valid UTF-8 — re-save the file as UTF-8"
        if first in SPREADSHEETS:
            raise DataError(path, None, "is a spreadsheet (Excel or OpenDocument) or another zip archive, not CSV "
                            "text", "export it as CSV (File > Save As > CSV UTF-8), or unzip it")
    if suffix == ".parquet":
        if not path.is_file():
            read_text_file(path, "a CSV/JSONL/Parquet file")  # says what is wrong with the path
        text = ""
    else:
        text = read_text_file(path, "a CSV/JSONL file")
    if suffix in (".jsonl", ".json"):
        return _json_frame(path, text, lines=suffix == ".jsonl")
    csv_file = suffix != ".parquet"
    sep = "\t" if suffix in (".tsv", ".tab") else ","  # a .tsv says how it is separated
    try:
        if suffix == ".parquet":
            frame, first_row = pd.read_parquet(path), 2
        else:
            frame, first_row = pd.read_csv(path, dtype=str, keep_default_na=False, sep=sep,
                                           encoding="utf-8", skip_blank_lines=False), 2
    except (ValueError, pd.errors.ParserError, OSError) as err:  # OSError: a Parquet file it cannot read
        if csv_file:  # some rows with a cell too many: name the first
            _check_cell_counts(path, text, sep)
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if quote := re.search(r"EOF inside string starting at row (\d+)", first):  # pandas counts from 0
            raise DataError(path, int(quote[1]) + 1, 'a double quote (") opens a cell that never closes',
                            'close it, or double a quote inside a cell ("")') from None
        raise DataError(path, None, f"cannot parse ({first})", "check the file format") from None
    if csv_file and not isinstance(frame.index, pd.RangeIndex):  # every row had one too many
        _check_cell_counts(path, text, sep)
    frame = frame.astype(object).where(frame.notna(), "").astype(str)  # a null is an empty cell
    frame.index = range(first_row, first_row + len(frame))
    return frame


def _json_frame(path: Path, text: str, lines: bool) -> pd.DataFrame:
    """JSONL (one object per line) or a JSON array of objects as a frame of strings indexed by
    line (JSONL) or position (array), from 1.

    subtle: read by hand, not ``pd.read_json``: with ``dtype=str`` it still turned a column
    named ``timestamp`` (or ``*_at``, ``date``...) into dates, so ``1700000000`` came back as
    ``"2023-11-14 22:13:20"``, and it skipped blank lines, naming the row before a bad one.
    """
    if lines:
        # subtle: split on "\n" only; splitlines() also breaks at U+2028, which JSON allows raw
        numbered = [(n, _json(path, n, line, "fix the line or delete it"))
                    for n, line in enumerate(text.split("\n"), start=1) if line.strip()]
    else:
        whole = _json(path, None, text, "fix the file")
        if not isinstance(whole, list):
            raise DataError(path, None, "is not a JSON array of records",
                            "write [{...}, {...}] or one record per line as .jsonl")
        numbered = list(enumerate(whole, start=1))
    for number, item in numbered:
        if not isinstance(item, dict):
            raise DataError(path, number, "is not a JSON object", "write one {...} record per row")
    records = [{str(k): _cell(v) for k, v in item.items()} for _, item in numbered]
    rows = [number for number, _ in numbered]
    frame = pd.DataFrame.from_records(records, index=rows).fillna("") if records else pd.DataFrame()
    return frame.astype(str)


def _json(path: Path, row: int | None, text: str, fix: str) -> object:
    """``json.loads`` with a one-line error naming the row (the file's line, for a whole file)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(path, row or err.lineno, f"not valid JSON ({err.msg})", fix) from None


def _cell(value: object) -> str:
    """A JSON value as a cell: ``None`` -> ``""``, ``1700000000`` -> ``"1700000000"``."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value if isinstance(value, str) else json.dumps(value)


def _separated_otherwise(path: Path, header: str) -> DataError | None:
    """The error for a one-cell header that another separator splits (``text;label``), else None.

    subtle: a semicolon file read "row 4: 8 cells where the header has 1 — put a cell that holds
    a comma in double quotes", which sends its owner after quotes instead of the separator."""
    for mark, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "'|'")):
        if "," not in header and mark in header:
            return DataError(path, 1, f"the header is one cell ({header.strip()[:60]!r}): the file is "
                                      f"separated by {name}", "save it as CSV, separated by commas")
    return None


def _check_cell_counts(path: Path, text: str, sep: str = ",") -> None:
    """Refuse a row with more cells than the header: ``a,Yes, in 3 days`` under ``q,answer``.

    subtle: pandas reads a file whose every row has one cell too many by turning the first
    column into the index, so each value silently moves one column left. Called only when
    pandas failed or built such an index: a second parse of every file would cost twice.
    """
    try:
        rows = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
        width = len(next(rows, []))
        if width == 0:
            return  # no header on the first line: the column check names what is missing
        if width == 1 and sep == "," and (wrong := _separated_otherwise(path, text.partition("\n")[0])):
            raise wrong
        for row, cells in enumerate(rows, start=2):
            if len(cells) > width:
                raise DataError(path, row, f"{len(cells)} cells where the header has {width}",
                                'put a cell that holds a comma in double quotes ("Yes, in 3 days")' if sep == ","
                                else "a cell that holds a tab goes in double quotes")
    except csv.Error:
        return  # pandas reports the malformed quoting itself


def read_table(
    path: str | Path, required: Sequence[str], optional: Sequence[str] = (), column_flags: str = ""
) -> pd.DataFrame:
    """Read a table, check its columns and that required cells are non-empty.

    Rows are numbered as in a spreadsheet (header = row 1). Columns come back as ``str``.
    ``column_flags`` names the caller's options that choose the columns (``"--text-col"``): a
    missing column's error offers them, and only them (most commands have none).
    """
    path = Path(path)
    # subtle: a JSON file was told to "write the header" and "add them to the header": it has none
    records = path.suffix.lower() in (".jsonl", ".json")
    also = f" (and any of {', '.join(optional)})" if optional else ""
    lines = "one JSON object per line" if path.suffix.lower() == ".jsonl" else "a JSON list of objects"
    write = f"write {lines} with the keys {', '.join(required)}{also}" if records else \
        f"write the header {','.join(required)}{also} and rows below it"
    if path.is_file() and path.stat().st_size == 0:  # pandas: "No columns to parse from file"
        raise DataError(path, None, "is empty (0 bytes)", write)
    frame = _read_frame(path)
    frame.columns = [str(c).strip() for c in frame.columns]
    # subtle: a spreadsheet's "Question,Answer" was refused (found: Question, Answer); a column
    # named in another case is taken, unless two of its spellings are there
    for name in [*required, *optional]:
        spelled = [c for c in frame.columns if c.casefold() == name.casefold()]
        if name not in frame.columns and len(spelled) == 1:
            frame = frame.rename(columns={spelled[0]: name})
    if records and not len(frame.columns):  # "[]", "[{}]", blank lines
        raise DataError(path, None, "has no record with a key", write)
    missing = [c for c in required if c not in frame.columns]
    if missing and len(frame.columns) == 1 and (wrong := _separated_otherwise(path, frame.columns[0])):
        raise wrong
    if missing:
        raise DataError(
            path, 1, f"missing {'key' if records else 'column'}(s) {', '.join(missing)} (found: "
                     f"{', '.join(frame.columns)})",
            ("give every record these keys" if records else "add them to the header")
            + (f" or pass {column_flags}" if column_flags else ""),
        )
    frame = frame[~_blank_rows(frame)]
    if frame.empty:
        raise DataError(path, None, "has no record with a value" if records else "has no data rows",
                        write if records else "add rows below the header")
    keep = list(required) + [c for c in optional if c in frame.columns]
    frame = frame[keep]
    for column in required:
        blank = frame[column].str.strip() == ""
        if blank.any():
            row = int(blank.idxmax())
            raise DataError(path, row, f"empty {column!r}", "give the key a value or delete the record" if records
                            else "fill the cell or delete the row")
    return frame.reset_index(drop=True)


def file_row(path: str | Path, position: int) -> int:
    """The spreadsheet row number (header = row 1) of the ``position``-th row that
    :func:`read_table` returned from ``path``: ``a,b / (blank) / 1,2`` -> position 0 is row 3.

    subtle: read_table drops blank lines and numbers what is left from 0, so ``position + 2``
    names a row above the bad one once a blank line comes before it. The file is read again,
    only when there is an error to report.
    """
    frame = _read_frame(Path(path))
    return int(frame.index[~_blank_rows(frame)][position])


def _blank_rows(frame: pd.DataFrame) -> pd.Series:
    """Rows whose every cell is empty or spaces: the blank lines read_table drops."""
    return (frame.apply(lambda col: col.str.strip()) == "").all(axis=1)


def read_labelled(
    path: str | Path, text_col: str = "text", label_col: str = "label", min_classes: int = 2,
    column_flags: str = "",
) -> list[LabelledText]:
    """Read ``text,label`` rows; reject files with fewer than ``min_classes`` labels.
    ``column_flags``: as :func:`read_table`. Two public layouts are read as they come: a
    ``category`` column where ``label`` is missing (Banking77's ``text,category``), and a
    ``.txt`` file of ``sentence@label`` lines (Financial PhraseBank's, :func:`read_phrasebank`);
    a ``.txt`` whose first line is a header naming ``text_col`` is read as a table."""
    if is_phrasebank(path, text_col):
        rows = read_phrasebank(path)
    else:
        try:
            frame = read_table(path, [text_col, label_col], column_flags=column_flags)
        except DataError:
            columns = table_columns(Path(path))
            if label_col != "label" or "label" in columns or "category" not in columns:
                raise  # subtle: only a missing label column falls back, never an empty label cell
            label_col = "category"
            frame = read_table(path, [text_col, label_col], column_flags=column_flags)
        rows = [LabelledText(t.strip(), lab.strip()) for t, lab in zip(frame[text_col], frame[label_col])]
    classes = {r.label for r in rows}
    if len(classes) < min_classes:
        raise DataError(
            path, None, f"only {len(classes)} class(es) in {label_col!r}: {sorted(classes)}",
            f"a classifier needs at least {min_classes} labels",
        )
    return rows


def is_phrasebank(path: str | Path, text_col: str = "text") -> bool:
    """Whether ``path`` is read as Financial PhraseBank's layout: a ``.txt`` file whose first
    line is no CSV header naming ``text_col`` (a table saved as .txt stays a table)."""
    path = Path(path)
    if path.suffix.lower() != ".txt":
        return False
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as handle:
            first = handle.readline()
    except OSError:
        return True  # read_phrasebank names what is wrong with the path
    return text_col not in [cell.strip() for cell in first.split(",")]


def table_columns(path: Path) -> list[str]:
    """A table's column names; none when it cannot be read."""
    try:
        return list(_read_frame(path).columns)
    except DataError:
        return []


def read_phrasebank(path: str | Path) -> list[LabelledText]:
    """Financial PhraseBank's ``Sentences_*.txt``: one ``sentence@label`` per line, in UTF-8 or,
    as most of its files are published, Latin-1.

    >>> import tempfile, pathlib; folder = tempfile.TemporaryDirectory(); f = pathlib.Path(folder.name, "s.txt")
    >>> _ = f.write_text("Sales rose 5 % .@positive\\n")
    >>> read_phrasebank(f)
    [LabelledText(text='Sales rose 5 % .', label='positive')]
    >>> folder.cleanup()
    """
    rows = []
    for number, line in enumerate(read_text_file(path, "a text file", fallback="latin-1").splitlines(), start=1):
        if not line.strip():
            continue
        text, at, label = line.rpartition("@")
        if not at or not text.strip() or not label.strip():
            raise DataError(path, number, "is not a sentence@label line",
                            "write one sentence per line, its label after an @ (Financial PhraseBank's layout)")
        rows.append(LabelledText(text.strip(), label.strip()))
    if not rows:
        raise DataError(path, None, "has no sentence@label lines", "write one sentence per line, its label after an @")
    return rows


def check_labels_known(test: Iterable[LabelledText], known: set[str], path: str | Path,
                       problem: Callable[[str], str] | None = None,
                       fix: str = "add training examples for it or drop the row") -> None:
    """Fail on the first test label not in ``known``, naming its row: by default as a label never
    seen in training; ``problem`` words it otherwise (``lambda label: f"... got {label!r}"``)."""
    for position, item in enumerate(test):
        if item.label not in known:
            row = file_row(path, position) if Path(path).is_file() else position + 2
            said = (problem(item.label) if problem else
                    f"label {item.label!r} does not occur in the training data")
            raise DataError(path, row, said, fix)


def write_labelled(rows: Iterable[LabelledText], path: str | Path) -> Path:
    """Write rows as a ``text,label`` CSV atomically."""
    from .storage import atomic_write_text

    frame = pd.DataFrame([(r.text, r.label) for r in rows], columns=["text", "label"])
    return atomic_write_text(path, frame.to_csv(index=False))


def read_texts(path: str | Path, text_col: str = "text", column_flags: str = "") -> list[str]:
    """Unlabelled text: one per line in a .txt file, or the ``text_col`` column of a table
    (``column_flags``: as :func:`read_table`)."""
    path = Path(path)
    if path.suffix.lower() != ".txt":
        return read_table(path, [text_col], column_flags=column_flags)[text_col].tolist()
    lines = [line.strip() for line in read_text_file(path, "a text file").splitlines() if line.strip()]
    if not lines:
        raise DataError(path, None, "has no text lines", "put one text per line")
    return lines


def read_text_file(path: str | Path, kind: str = "a text file", fallback: str | None = None) -> str:
    """A whole UTF-8 file (a leading BOM dropped); a missing file, a folder, bytes that are not
    UTF-8 (named by their line) or an unreadable file is a :class:`DataError` saying what to pass
    (``kind``: "a text file", "a Markdown file"). ``fallback``: the encoding of a file that is
    not UTF-8 (``"latin-1"`` for a layout published so) instead of that error."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, None, "file not found", "check the path")
    if path.is_dir():
        raise DataError(path, None, f"is a directory, expected {kind}", f"pass {kind}")
    try:
        raw = path.read_bytes()
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        if fallback:
            return raw.decode(fallback)
        line = raw[: err.start].count(b"\n") + 1
        raise DataError(path, line, "not valid UTF-8", "re-save the file as UTF-8", unit="line") from None
    except OSError as err:
        raise DataError(path, None, f"cannot read it ({err.strerror})", "check its permissions") from None


def fingerprint(obj: object) -> str:
    """A short, stable hash of JSON-able data: ``fingerprint([1, 2]) -> '…16 hex chars'``."""
    payload = json.dumps(obj, sort_keys=True, default=str).encode("utf-8")
    return hashlib.sha256(payload).hexdigest()[:16]


def same_text(text: str) -> str:
    """A text as compared for overlap between data sets: spacing and case ignored."""
    return " ".join(text.split()).casefold()


def split_notes(train: list[LabelledText], test: list[LabelledText]) -> list[str]:
    """What makes a test set's scores mean less than they seem, in words: texts it shares with
    the training rows (not held out: FPB's and Banking77's public splits repeat sentences), and
    training labels it has no rows of (macro-F1 counts one the model predicts there as 0)."""
    notes = []
    seen = {same_text(r.text) for r in train}
    shared = sum(same_text(r.text) in seen for r in test)
    if shared:
        notes.append(f"{shared} of the {len(test)} test rows have a text the training rows hold too: "
                     "their scores are not held out")
    missing = sorted({r.label for r in train} - {r.label for r in test})
    if missing:
        notes.append(f"the test set has no rows labelled {', '.join(missing)}: macro-F1 counts such a "
                     "label as F1 0 wherever the model predicts it")
    return notes


def thin_label_notes(train: list[LabelledText], least: int = 3) -> list[str]:
    """A note naming the labels with fewer than ``least`` training rows (the model can hardly
    learn them, and a validation split may leave them none), as :func:`split_notes` gives them."""
    counts = Counter(r.label for r in train)
    thin = sorted(label for label, n in counts.items() if n < least)
    if not thin:
        return []
    named = ", ".join(f"{label} ({counts[label]})" for label in thin[:5]) + (" ..." if len(thin) > 5 else "")
    return [f"{len(thin)} label(s) have fewer than {least} training rows: {named}; the model can hardly "
            "learn them — add examples"]


def case_label_notes(train: list[LabelledText]) -> list[str]:
    """A note naming labels that differ only in case ("Neutral" beside "neutral"): two classes
    to the model, most likely one to whoever wrote them."""
    spellings: dict[str, set[str]] = {}
    for label in {r.label for r in train}:
        spellings.setdefault(label.casefold(), set()).add(label)
    twins = [sorted(s) for s in spellings.values() if len(s) > 1]
    if not twins:
        return []
    named = "; ".join(" and ".join(repr(label) for label in group) for group in sorted(twins))
    return [f"labels that differ only in case are separate classes: {named} — write each label one way"]


def file_digest(path: str | Path) -> str:
    """A short hash of a file's bytes (16 hex chars), for stamps of what a model was made from."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
