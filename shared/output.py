"""How every CLI in the suite prints: one JSON value with ``--json``, else readable lines and
tables sized to the terminal, and user errors as one ``error:`` line."""

from __future__ import annotations

import json
import shutil
import sys
from typing import Annotated

import typer

from .errors import VerticalsError

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def count_of(n: int, noun: str, plural: str | None = None) -> str:
    """``count_of(2, "turn") -> "2 turns"``, ``count_of(1, "open alert") -> "1 open alert"``;
    ``plural`` where it is not ``noun`` + "s": ``count_of(3, "entry", "entries") -> "3 entries"``."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def emit(result: dict | list[dict], as_json: bool) -> None:
    """Print a result: one JSON value on stdout with ``--json``, else readable lines (a list of
    rows prints one line per row). Every CLI in the suite prints through this."""
    if as_json:
        print(json.dumps(result, default=str))
        return
    if isinstance(result, list):
        print_table(result)
        return
    for key, value in result.items():
        if isinstance(value, dict):
            print(f"{key}:")
            for sub, subvalue in value.items():
                print(f"  {sub}: {fmt(subvalue)}")
        else:
            print(f"{key}: {fmt(value)}")


def say_error(err: VerticalsError) -> None:
    """A user error as one ``error:`` line on stderr; under ``--json`` also ``{"error": ...}`` on
    stdout, so a script reading stdout gets it too."""
    print(f"error: {err}", file=sys.stderr)
    if "--json" in sys.argv[1:]:
        print(json.dumps({"error": str(err)}))


def emit_rows(rows: list[dict], key: str, as_json: bool, empty: str) -> None:
    """Rows as ``{key: rows}`` with ``--json``, else a table, or the line ``empty`` when there
    are none (a bare empty table said nothing)."""
    if not rows and not as_json:
        print(empty)
        return
    emit({key: rows} if as_json else rows, as_json)


def print_table(rows: list[dict], widest: int = 60) -> None:
    """Rows as aligned columns under a header; a cell over ``widest`` characters is cut with
    "…" (``--json`` has it whole: a 2,000-character question filled the screen). On a terminal
    a column empty in every row is left out and the widest columns are cut further until a row
    fits its width; a file or a pipe gets every column.

    subtle: `support handoffs` printed 220 columns, wrapped into a jumble on a 100-column screen."""
    if not rows:
        return
    screen = sys.stdout.isatty()
    names = [k for k in rows[0] if not screen or any(row.get(k) not in (None, "", [], ()) for row in rows)]
    cells = [names] + [[fmt(row.get(k)) for k in names] for row in rows]
    cells = [[" ".join(c.split()) for c in line] for line in cells]  # one line per row
    widths = [min(widest, max(len(line[i]) for line in cells)) for i in range(len(names))]
    widths = _fit(widths, shutil.get_terminal_size().columns) if screen else widths
    for line in cells:
        print("  ".join((c if len(c) <= w else c[:w - 1] + "…").ljust(w)
                        for c, w in zip(line, widths, strict=True)).rstrip())


def _fit(widths: list[int], room: int, floor: int = 12) -> list[int]:
    """Column widths cut, widest first and none below ``floor``, until a row fits ``room``:

    >>> _fit([40, 10, 60], 80)
    [33, 10, 33]
    """
    widths = list(widths)
    while sum(widths) + 2 * (len(widths) - 1) > room:
        i = max(range(len(widths)), key=widths.__getitem__)
        if widths[i] <= floor:
            break
        widths[i] -= 1
    return widths


def fmt(value: object) -> str:
    """A value as a table cell or a ``key: value`` line reads it: None as "-", floats to 4
    places, a dict as ``k=v`` pairs, a list one item a line when any is long."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={fmt(v)}" for k, v in value.items())
    if isinstance(value, list | tuple) and not value:  # "new_alerts: " read as a line cut short
        return "none"
    if isinstance(value, list | tuple):  # notes, labels: one per line, not a Python list
        return "".join(f"\n  - {fmt(v)}" for v in value) if any(len(str(v)) > 40 for v in value) else \
            ", ".join(fmt(v) for v in value)
    return str(value)
