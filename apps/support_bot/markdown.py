"""Markdown knowledge-base files read as the plain prose the bot quotes: the title, front matter,
headings, lists, tables, code blocks and inline markup turned into sentences a customer reads."""

from __future__ import annotations

import bisect
import re
from pathlib import Path

from shared.data import read_text_file
from shared.errors import DataError

_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
HTML_TAG = re.compile(r"</?[A-Za-z][\w-]*(?:\s[^<>]*)?/?>")  # an HTML tag (knowledge's cells use it too)
# a script or style element, its content too: a heading "Gift wrapping <script>alert('x')</script>" was
# cited as "Gift wrapping alert('x')" (capped: a tag never closed scans no further)
HTML_CODE = re.compile(r"<(script|style)\b[^<>]{0,500}>.{0,5000}?</\1\s*>\s*", re.I | re.S)


def list_items(lines: list[str]) -> list[str]:
    """Markdown list items as sentences: the marker dropped, wrapped lines joined, a full stop
    added where the item has none, so ``"1. Remove the packaging"`` is one sentence, not two:

    >>> list_items(["Steps:", "", "1. Open the box", "   and the bag", "2. Fit the pedals", "", "Done."])
    ['Steps:', '', 'Open the box and the bag.', 'Fit the pedals.', '', 'Done.']

    A marker counts only where a list can start (after a blank line, a heading or an item), so
    "opened in\n2019. It is" keeps its year.
    """
    out: list[str] = []
    in_item = False
    for line in lines:
        starts = not out or not out[-1].strip() or in_item or out[-1].lstrip().startswith("#")
        if _LIST_MARK.match(line) and starts:
            _close(out, in_item)
            out.append(_LIST_MARK.sub("", line).strip())
            in_item = True
        elif in_item and line.strip() and not line.lstrip().startswith("#"):
            out[-1] += " " + line.strip()  # a wrapped item continues
        else:
            _close(out, in_item)
            out.append(line)
            in_item = False
    _close(out, in_item)
    return out


def _close(out: list[str], in_item: bool) -> None:
    if in_item and out[-1] and out[-1][-1] not in ".:;?!":
        out[-1] += "."


# "## Signing ##": level "##", text "Signing"; "#1 bike shop in town" is no heading (a space must follow)
_ATX = re.compile(r"^(#+)(?!\S)\s*(.*?)(?:\s+#+)?\s*$")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_QUOTE = re.compile(r"^ {0,3}(?:> ?)+")  # a blockquote's markers
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$")  # |---|:--:|
# subtle: every span is capped (or anchored): uncapped, a 100 KB line of "*a " or "![a" (minified
# CSS pasted into a guide) took 30-40 s, each opening mark scanning the rest of the line
_LINKS = [  # (markup, what a customer reads instead), in this order
    (re.compile(r"!\[[^\]]{0,500}\](?:\([^)]{0,2000}\)|\[[^\]]{0,200}\])"), ""),  # an image: no picture in chat
    (re.compile(r"\[([^\]]{0,500})\]\((?:[^()]|\([^()]{0,200}\)){0,2000}\)"), r"\1"),  # [text](url), url may hold (x)
    (re.compile(r"\[([^\]]{1,500})\]\[[^\]]{0,200}\]"), r"\1"),  # [text][ref]
]
_MARKS = [  # the same, outside code spans
    (re.compile(r"<((?:https?://|mailto:)[^<>\s]+|[^<>\s@]+@[^<>\s]+)>"), r"\1"),  # <https://x>, <a@b.example>
    (re.compile(r"<br\s*/?>", re.I), " "),
    # a block's tags part its text ("<li>Open the box</li><li>Fit the pedals</li>"); other tags go
    (re.compile(r"</?(?:p|div|li|ul|ol|table|tr|td|th|h[1-6]|blockquote|details|summary|section)\b[^<>]*>",
                re.I), " "),
    (HTML_CODE, ""),
    (HTML_TAG, ""),  # other HTML tags; their text stays
    # footnote references [^1]; a bare [2] glued to its word ("blue.[2]"): "press [2] for billing" stays
    (re.compile(r"(?<!\s)\s*\[\^[^\]]{1,100}\]|(?<=[^\s\[(])\[\d+\]"), ""),
    (re.compile(r"(?<![\w*])(\*{1,3}|_{1,3})(?=[^\s*_])(.{1,300}?)(?<=[^\s*_])\1(?![\w*])"), r"\2"),  # *x*, __x__
    (re.compile(r"~~(?=\S)(.{1,300}?)(?<=\S)~~"), r"\1"),  # ~~struck~~
    (re.compile(r"^(\s*(?:[-*+]|\d+[.)])\s+)\[[ xX]\]\s+"), r"\1"),  # a task list's "[ ]" / "[x]"
    (re.compile(r"\*\*|`"), ""),
]
# a backslash escape ("\*", "my\_file", "\[EUR\]") keeps its character as written: hidden from the
# patterns above in the private-use area, then given back
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")
_HIDDEN = {0xE000 + code: chr(code) for code in range(0x21, 0x7F)}


def _inline(line: str) -> str:
    r"""A line without its inline markup; code spans keep their text as written:

    >>> _inline("See ![map](m.png)[our prices](https://x.example/p), *Settings* and `my_var_[0]`[^1].[2] Press [1].")
    'See our prices, Settings and my_var_[0]. Press [1].'
    >>> _inline(r"- [x] Pay ~~49~~ 39 euros \[EUR\] for my\_file, not \*all\*.")
    '- Pay 49 39 euros [EUR] for my_file, not *all*.'

    subtle: the bot numbers its citations [1], [2], so a bare "[2]" glued to a word (a citation
    copied from elsewhere) read as one of them; "press [2] for billing" means the key;
    emphasis needs a non-word on either side, so snake_case and "5 * 3" stay as they are."""
    indent = line[:len(line) - len(line.lstrip())]  # a list's nesting: kept as it was
    line = _ESCAPED.sub(lambda m: chr(0xE000 + ord(m[1])), line)
    for markup, shown in _LINKS:
        line = markup.sub(shown, line)
    parts = re.split(r"(`[^`]*`)", line)  # odd parts are code spans
    for i in range(0, len(parts), 2):
        for markup, shown in _MARKS:
            parts[i] = markup.sub(shown, parts[i])
    # a block's tag opening the line left a space that is no indent
    return indent + "".join(part.strip("`") if i % 2 else part for i, part in enumerate(parts)).strip() \
        .translate(_HIDDEN)


def _cells(row: str) -> list[str]:
    row = re.sub(r"^\s*\||(?<!\\)\|\s*$", "", row)
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", row)]


def _tables(lines: list[str]) -> list[str]:
    """Pipe tables as a sentence a row (a paragraph each), every cell named by its column:

    >>> _tables(["| Country | VAT rate |", "|---|--:|", "| Germany | 19% |", "| France | |", "Next."])
    ['', 'Country: Germany; VAT rate: 19%.', '', 'Country: France.', '', 'Next.']
    """
    out: list[str] = []
    header: list[str] = []
    for i, line in enumerate(lines):
        below = lines[i + 1] if i + 1 < len(lines) else ""
        if not header and "|" in line and "|" in below and _TABLE_RULE.match(below):
            header = _cells(line)
        elif header and "|" in line and _TABLE_RULE.match(line):
            continue
        elif header and "|" in line:
            row = "; ".join(f"{name}: {cell}" if name else cell
                            for name, cell in zip(header, _cells(line)) if cell)
            out += ["", row + ("" if row[-1:] in ".!?" else ".")] if row else []
        else:
            out += [""] if header else []
            out.append(line)
            header = []
    return out


def _setext(lines: list[str]) -> list[str]:
    """Underlined headings as ``#`` ones (``===`` level 1, ``---`` level 2); thematic breaks dropped:

    >>> _setext(["Proxy", "=====", "Use it.", "", "---", "Ports", "-----", "8080."])
    ['# Proxy', 'Use it.', '', '', '## Ports', '8080.']

    subtle: a "---" under a paragraph's line underlines a heading; after a blank line it is a break."""
    out: list[str] = []
    for line in lines:
        under = re.match(r"^ {0,3}(=+|-+)\s*$", line)
        above = out[-1] if out else ""
        if under and above.strip() and not _LIST_MARK.match(above) and not above.lstrip().startswith("#"):
            out[-1] = ("# " if under.group(1)[0] == "=" else "## ") + above.strip()
        elif re.match(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}\s*$", line):
            out.append("")
        else:
            out.append(line)
    return out


def _prose(lines: list[str], cited: str = "") -> list[str]:
    """Lines outside code blocks with their markup undone: quote markers, link definitions
    ("[2]: https://...", dropped, and "[2]" where it is used: ``cited``, the document's numbers
    as "1|2"), footnotes ("[^1]: The secret is blue.", kept as a paragraph: they carry
    conditions), inline markup, tables, underlined headings and list markers."""
    out: list[str] = []
    for line in lines:
        line = _QUOTE.sub("", line)
        if cited:  # "is kept [2]." where the document defines [2]: a link to it, in a chat a stray mark
            line = re.sub(rf"(?<=\S)\s+\[(?:{cited})\](?![(\[:])", "", line)
        if re.match(r"^ {0,3}([*_])(?:[ \t]*\1){2,}\s*$", line):  # "***", "_ _ _": a break, read as emphasis
            out.append("")
        elif re.match(r"^\s*\[!(?:NOTE|TIP|IMPORTANT|WARNING|CAUTION)\]\s*$", line, re.I):  # "> [!NOTE]"
            continue
        elif note := re.match(r"^ {0,3}\[\^[^\]]+\]:\s*(.*)", line):
            out += ["", _inline(note.group(1))]
        elif not re.match(r"^ {0,3}\[[^\]]+\]:\s*\S", line):
            out.append(_inline(line))
    return list_items(_setext(_tables(out)))


def _indented(line: str) -> bool:
    """Whether ``line`` is indented as code: four spaces or a tab."""
    return line.startswith(("    ", "\t")) or line.lstrip(" ").startswith("\t")


def _opens_indented_code(line: str, previous: str, last_text: str) -> bool:
    """Whether an indented ``line`` opens an indented code block: after a blank line or a heading
    (an indented line cannot interrupt a paragraph), and not within a list, whose items go on
    indented: ``last_text``, the last line with text before it (a fence's too), is neither an
    item nor indented."""
    if not (_indented(line) and line.strip()):
        return False
    if previous.lstrip().startswith("#") and not _indented(previous):
        return True
    return not previous.strip() and not (_LIST_MARK.match(last_text) or last_text[:1].isspace())


def _markdown_lines(lines: list[str]) -> list[tuple[str, bool]]:
    """``(line, is_code)`` pairs: prose lines as ``_prose`` cleans them; a code block's lines as
    written (fenced: without the fences and their language word; indented: without the indent),
    each a paragraph of its own (so nothing in it is a heading or list, and split_sentences keeps
    each command a sentence of its own)."""
    out: list[tuple[str, bool]] = []
    prose: list[str] = []
    fence, quoted, indented = "", False, False
    previous = last_text = ""  # the line before, and the last one with text
    # the numbers of the link definitions ("[2]: https://..."), wherever they are: often at the end
    cited = "|".join(re.findall(r"^ {0,3}(?:> ?)*\[(\d+)\]:\s*\S", "\n".join(lines), re.M))
    for line in lines:
        bare = _QUOTE.sub("", line)  # a fence may sit in a quote ("> ```")
        before, text_before = previous, last_text
        previous, last_text = line, line if line.strip() else last_text
        if indented and (_indented(line) or not line.strip()):
            if line.strip():
                out += [(line.strip(), True), ("", False)]
            continue
        indented = False
        if not fence and _opens_indented_code(line, before, text_before):
            out += [(p, False) for p in _prose(prose, cited)] + [("", False), (line.strip(), True), ("", False)]
            prose, indented = [], True
        elif not fence and (mark := _FENCE.match(bare)):
            out += [(p, False) for p in _prose(prose, cited)] + [("", False)]
            prose, fence, quoted = [], mark.group(1), bare != line
        elif fence:
            code = bare if quoted else line  # outside a quote, ">>> print(1)" is code as written
            if re.fullmatch(rf"\s*{fence}{fence[0]}*\s*", code):
                fence = ""
            elif code.strip():
                out += [(code.strip(), True), ("", False)]
        else:
            prose.append(line)
    return out + [(p, False) for p in _prose(prose, cited)]


def _front_field(front: str, name: str) -> str:
    found = re.search(rf"^{name}:\s*[\"']?(.*?)[\"']?\s*$", front, re.M)
    return found.group(1) if found else ""


def _without_html_code(raw: str) -> str:
    r"""``raw`` without its script and style elements over several lines (``HTML_CODE``; one on a
    line is :func:`_inline`'s, which keeps a code span's), but for those in a fenced code block (a
    widget's snippet to paste is kept).

    >>> _without_html_code("A\n<script>\nalert(1)\n</script>\nB\n```\n<script>x()</script>\n```")
    'A\n\nB\n```\n<script>x()</script>\n```'
    """
    fenced, opened, at = [], None, 0
    for line in raw.splitlines(keepends=True):
        if _FENCE.match(_QUOTE.sub("", line)):
            opened, fenced = (at, fenced) if opened is None else (None, [*fenced, (opened, at + len(line))])
        at += len(line)
    fenced += [(opened, at)] if opened is not None else []
    starts = [a for a, _ in fenced]

    def kept(match: re.Match[str]) -> str:  # inside the fenced block that starts last before it
        i = bisect.bisect_right(starts, match.start()) - 1
        fenced_in = i >= 0 and match.start() < fenced[i][1]
        return match.group() if fenced_in or "\n" not in match.group().rstrip() else "\n"

    return HTML_CODE.sub(kept, raw)


def _without_comments(raw: str) -> str:
    r"""``raw`` without its HTML comments, a comment's own line with it; an unclosed one runs to the
    end. subtle: found by a scan, not a lazy regex, which took 18 s on a line of unclosed "<!-- "s.

    >>> _without_comments("A <!-- x -->b\n  <!-- TODO\n -->\nC <!-- open")
    'Ab\nC'
    """
    out, at = [], 0
    while (start := raw.find("<!--", at)) >= 0:
        end = raw.find("-->", start + 4)
        end = len(raw) if end < 0 else end + 3
        head = raw[at:start]
        before = head.rstrip(" \t")
        if before.endswith("\n") or (not before and not out):  # the comment opens its line
            tail = re.match(r"[ \t\r]*(?:\n|\Z)", raw[end:])
            if tail:  # and closes it: the line goes
                out.append(before)
                at = end + tail.end()
                continue
        out.append(before)
        at = end
    return "".join(out) + raw[at:]


def read_markdown(path: Path) -> tuple[str, str, str]:
    """One Markdown file as ``(title, text, url)``, the text plain prose. The title is the first level-1 heading
    (``# X`` or ``X`` over ``===``) before any text, else a YAML front matter's ``title:``, else the
    file name; the front matter's ``url:``, a web address, is the document's. The front matter,
    HTML comments and tags, and Markdown markup are no text of the document (see ``_prose``).

    subtle: a front matter ("---\ntitle: Bell and lights rules\ntags: [legal]\n---") was quoted
    to customers as the answer's first sentence, and so were "<!-- TODO: confirm with eng -->",
    "[our pricing page](https://...)" and tables' "|---------|"."""
    raw = read_text_file(path, "a Markdown file")
    title, url = path.stem.replace("-", " ").capitalize(), ""
    if front := re.match(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", raw, re.S):
        raw = raw[front.end():]
        title = _front_field(front.group(1), "title") or title
        url = _front_field(front.group(1), "url")
        url = url if re.match(r"https?://\S+$", url) else ""
    # subtle: a comment may span lines, so it goes before the lines are read; a comment's own line with it
    raw = _without_html_code(_without_comments(raw))
    lines, pending, titled = [], "", False
    for line, code in _markdown_lines(raw.splitlines()):
        heading = None if code else _ATX.match(line)
        if heading and heading.group(1) == "#" and not titled and not pending and not "".join(lines).strip():
            title, titled = heading.group(2) or title, True
            continue
        if heading and heading.group(2)[-1:] not in ".?!":
            # subtle: a label-like subheading ("Validity") leads the section's first sentence
            # ("Validity: Gift cards are valid for 3 years."): on a line of its own it was
            # quoted in answers as a sentence ("... in a gift box. Using a gift card.")
            pending = (f"{pending}.\n\n" if pending else "") + heading.group(2).rstrip(":")
            continue
        if heading:  # a question or sentence heading stands alone
            line = heading.group(2) + "\n"
        if pending and line.strip():
            line, pending = f"\n{pending}: {line.strip()}", ""
        lines.append(line)
    lines.append(f"\n{pending}." if pending else "")
    text = "\n".join(lines).strip()
    if not text:
        raise DataError(path, None, "the Markdown file has no text", "write some or remove it")
    return title, text, url
