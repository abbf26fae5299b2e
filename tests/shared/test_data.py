from __future__ import annotations

import json
import string

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.data import (
    LabelledText,
    case_label_notes,
    fingerprint,
    read_labelled,
    read_table,
    read_texts,
    split_notes,
    thin_label_notes,
    write_labelled,
)
from shared.errors import DataError

cell = st.text(alphabet=string.ascii_letters + string.digits + " ,\"'é中\n", min_size=1, max_size=30).filter(
    lambda s: s.strip() != ""
)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(rows=st.lists(st.tuples(cell, st.sampled_from(["a", "b", "c"])), min_size=2, max_size=20))
def test_labelled_round_trip_keeps_every_row(tmp_path, rows):
    rows = [LabelledText(t.strip(), y) for t, y in rows]
    if len({r.label for r in rows}) < 2:
        rows.append(LabelledText("extra", "zz"))
    path = write_labelled(rows, tmp_path / "rows.csv")
    assert read_labelled(path) == rows


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=1, max_size=200))
def test_arbitrary_bytes_either_parse_or_fail_with_one_line(tmp_path, data):
    path = tmp_path / "junk.csv"
    path.write_bytes(b"text,label\n" + data)
    try:
        read_labelled(path)
    except DataError as err:
        assert "\n" not in str(err) and str(path) in str(err)


def test_non_utf8_names_file_and_row(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("text,label\nok,a\ncaf\xe9,b\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin.csv, line 3: not valid UTF-8"):
        read_labelled(path)


def test_a_text_file_that_is_not_utf8_names_its_line(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_bytes("first line\nsecond line\ncaf\xe9 third\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"corpus.txt, line 3: not valid UTF-8"):
        read_texts(path)
    (tmp_path / "folder.txt").mkdir()
    with pytest.raises(DataError, match=r"folder.txt: is a directory, expected a text file — pass a text file"):
        read_texts(tmp_path / "folder.txt")


def test_the_public_layouts_read_as_labelled_text(tmp_path):
    banking = tmp_path / "train.csv"  # Banking77 names its label "category"
    banking.write_text("text,category\nI am still waiting on my card?,card_arrival\nMy card was declined,declined\n")
    assert read_labelled(banking)[0] == LabelledText("I am still waiting on my card?", "card_arrival")
    both = tmp_path / "both.csv"  # a label column with an empty cell is that error, not a category file
    both.write_text("text,label,category\nhi,,greeting\nbye,farewell,farewell\n")
    with pytest.raises(DataError, match="row 2: empty 'label'"):
        read_labelled(both)
    phrasebank = tmp_path / "Sentences_AllAgree.txt"  # sentence@label lines; a sentence may hold an @
    phrasebank.write_text("Sales rose 5 % .@positive\n\nShares @ 3 euros fell .@negative\n")
    assert read_labelled(phrasebank) == [LabelledText("Sales rose 5 % .", "positive"),
                                         LabelledText("Shares @ 3 euros fell .", "negative")]
    phrasebank.write_text("Sales rose 5 % .@positive\nno label here\n")
    with pytest.raises(DataError, match="row 2: is not a sentence@label line"):
        read_labelled(phrasebank)
    phrasebank.write_bytes("Net sales rose in Espoo \u00e9 .@positive\nLoss widened .@negative\n".encode("latin-1"))
    assert read_labelled(phrasebank)[0].text == "Net sales rose in Espoo \u00e9 ."  # published in Latin-1
    table = tmp_path / "table.txt"  # a CSV saved as .txt stays a table
    table.write_text("text,label\nmail me @ noon,a\nbye,b\n")
    assert read_labelled(table)[0] == LabelledText("mail me @ noon", "a")


def test_missing_column_and_empty_cell(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("sentence,label\nhi,a\n")
    with pytest.raises(DataError, match="missing column"):
        read_labelled(path)
    path.write_text("text,label\nhi,a\n  ,b\n")
    with pytest.raises(DataError, match=r"row 3: empty 'text'"):
        read_labelled(path)


@pytest.mark.parametrize("content", ["text;label\nProfit rose;positive\nSales, fell;negative\n",
                                     "text;label\nProfit rose;positive\n", "text\tlabel\nProfit rose\tpositive\n"])
def test_a_file_separated_otherwise_is_named_so(tmp_path, content):
    path = tmp_path / "data.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=r"data.csv, row 1: the header is one cell \('text(;|\\t)label'\): the file is "
                                        r"separated by (semicolons|tabs) — save it as CSV, separated by commas$"):
        read_labelled(path)


def test_a_tsv_file_is_read_by_its_tabs(tmp_path):
    path = tmp_path / "data.tsv"
    path.write_text("text\tlabel\nProfit rose, again\tpositive\nSales fell\tnegative\n")
    assert [r.label for r in read_labelled(path)] == ["positive", "negative"]


def test_a_quote_that_never_closes_is_named_by_its_row(tmp_path):
    path = tmp_path / "data.csv"  # pandas: "Error tokenizing data. C error: EOF inside string starting at row 2"
    path.write_text('text,label\nProfit rose,positive\n"Sales fell,negative\nCosts rose,negative\n')
    with pytest.raises(DataError, match=r'data.csv, row 3: a double quote \(\"\) opens a cell that never closes'):
        read_labelled(path)


def test_an_unquoted_comma_is_refused_not_shifted(tmp_path):
    # pandas would make the first column the index and move every value one column left
    path = tmp_path / "faq.csv"
    path.write_text("question,answer\nDo you ship to Spain?,Yes, in 3 days.\n")
    with pytest.raises(DataError, match=r"faq.csv, row 2: 3 cells where the header has 2 .*double quotes"):
        read_table(path, ["question", "answer"])
    path.write_text('question,answer\n"Do you ship, to Spain?","Yes, in\n3 days."\nAnd?,No\n')
    frame = read_table(path, ["question", "answer"])
    assert list(frame["question"]) == ["Do you ship, to Spain?", "And?"]
    assert list(frame["answer"]) == ["Yes, in\n3 days.", "No"]


def test_a_json_file_is_told_of_records_and_keys_not_a_header(tmp_path):
    """An empty JSONL file was told to "write the header item_id,title": it has none."""
    lines, listed = tmp_path / "items.jsonl", tmp_path / "items.json"
    for text, said in [("", "is empty (0 bytes) — write one JSON object per line with the keys item_id, title"),
                       ("\n", "has no record with a key — write one JSON object per line with the keys item_id, title"),
                       ('{"id": 1}\n', "row 1: missing key(s) item_id, title (found: id) — give every record "
                                       "these keys")]:
        lines.write_text(text)
        with pytest.raises(DataError) as raised:
            read_table(lines, ["item_id", "title"])
        assert str(raised.value).endswith(said)
    for text in ("[]", "[{}]"):
        listed.write_text(text)
        with pytest.raises(DataError, match="has no record with a key — write a JSON list of objects with the keys"):
            read_table(listed, ["item_id", "title"])
    lines.write_text('{"item_id": "1", "title": " "}\n')
    with pytest.raises(DataError, match="row 1: empty 'title' — give the key a value or delete the record"):
        read_table(lines, ["item_id", "title"])


def test_single_class_and_empty_file(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("text,label\nhi,a\nho,a\n")
    with pytest.raises(DataError, match="only 1 class"):
        read_labelled(path)
    path.write_text("text,label\n")
    with pytest.raises(DataError, match="no data rows"):
        read_table(path, ["text", "label"])


def test_fingerprint_is_stable_and_sensitive():
    assert fingerprint([1, 2]) == fingerprint([1, 2]) != fingerprint([2, 1])
    assert len(fingerprint({"a": 1})) == 16


def test_parquet_blank_lines_and_jsonl_rows(tmp_path):
    pd.DataFrame({"text": ["fine", "ok"], "label": ["a", "b"]}).to_parquet(tmp_path / "t.parquet")
    assert [r.text for r in read_labelled(tmp_path / "t.parquet")] == ["fine", "ok"]
    pd.DataFrame({"text": ["fine", None], "label": ["a", "b"]}).to_parquet(tmp_path / "n.parquet")
    with pytest.raises(DataError, match="row 3: empty 'text'"):  # a null is an empty cell
        read_labelled(tmp_path / "n.parquet")
    (tmp_path / "gap.csv").write_text("text,label\nhi,a\n\n,b\n")
    with pytest.raises(DataError, match="row 4: empty 'text'"):  # the row a spreadsheet shows
        read_labelled(tmp_path / "gap.csv")
    (tmp_path / "gap.csv").write_text("text,label\nhi,a\n\nho,b\n")
    assert [r.text for r in read_labelled(tmp_path / "gap.csv")] == ["hi", "ho"]
    (tmp_path / "r.jsonl").write_text('{"text": "hi", "label": "a"}\n{"text": "", "label": "b"}\n')
    with pytest.raises(DataError, match="row 2: empty 'text'"):  # JSONL has no header row
        read_labelled(tmp_path / "r.jsonl")
    (tmp_path / "gap.jsonl").write_text('{"text": "hi", "label": "a"}\n\n{"text": "", "label": 2}\n')
    with pytest.raises(DataError, match="row 3: empty 'text'"):  # a blank line keeps its number
        read_labelled(tmp_path / "gap.jsonl")
    (tmp_path / "bad.jsonl").write_text('{"text": "hi", "label": "a"}\n{"text": "ho"\n')
    with pytest.raises(DataError, match="row 2: not valid JSON"):
        read_labelled(tmp_path / "bad.jsonl")
    # values stay as written: pandas turned a "timestamp" of Unix seconds into a date
    (tmp_path / "t.jsonl").write_text('{"text": "hi", "timestamp": 1700000000, "label": 1, "x": null}\n')
    assert read_table(tmp_path / "t.jsonl", ["text", "timestamp", "label"], ["x"]).iloc[0].tolist() \
        == ["hi", "1700000000", "1", ""]
    raw = json.dumps({"text": "line one\u2028line two", "label": "a"}, ensure_ascii=False)
    (tmp_path / "sep.jsonl").write_text(raw + "\n", encoding="utf-8")  # U+2028 is valid JSON text
    assert read_table(tmp_path / "sep.jsonl", ["text"])["text"].tolist() == ["line one\u2028line two"]
    (tmp_path / "a.json").write_text('[{"text": "hi", "label": "a"}, {"text": "ho", "label": "b"}]')
    assert [r.label for r in read_labelled(tmp_path / "a.json")] == ["a", "b"]


def test_missing_column_offers_only_options_the_command_has(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("question,answer\nhi,ho\n")
    with pytest.raises(DataError) as caught:
        read_table(path, ["query", "positive"])
    assert str(caught.value).endswith("row 1: missing column(s) query, positive (found: question, answer) — "
                                      "add them to the header")
    with pytest.raises(DataError) as caught:
        read_labelled(path, column_flags="--text-col/--label-col")
    assert str(caught.value).endswith("add them to the header or pass --text-col/--label-col")


def test_labels_with_few_training_rows_are_named() -> None:
    rows = [LabelledText(f"t{i}", "big") for i in range(5)] + [LabelledText("x", "rare"), LabelledText("y", "odd"),
                                                               LabelledText("z", "odd")]
    assert thin_label_notes(rows) == ["2 label(s) have fewer than 3 training rows: odd (2), rare (1); the model "
                                      "can hardly learn them — add examples"]
    assert thin_label_notes(rows[:5]) == []


def test_labels_differing_only_in_case_are_named() -> None:
    rows = [LabelledText("a", "neutral"), LabelledText("b", "Neutral"), LabelledText("c", "pos"),
            LabelledText("d", "POS"), LabelledText("e", "neg")]
    assert case_label_notes(rows) == ["labels that differ only in case are separate classes: 'Neutral' and "
                                      "'neutral'; 'POS' and 'pos' — write each label one way"]
    assert case_label_notes(rows[1:3]) == []


def test_split_notes_name_shared_texts_and_missing_labels() -> None:
    train = [LabelledText("Profit rose", "positive"), LabelledText("Profit fell", "negative"),
             LabelledText("Board met", "neutral")]
    assert split_notes(train, [LabelledText("profit  ROSE", "positive"), LabelledText("Sales fell", "negative"),
                               LabelledText("CEO met", "neutral")]) == [
        "1 of the 3 test rows have a text the training rows hold too: their scores are not held out"]
    assert split_notes(train, [LabelledText("Sales rose", "positive"), LabelledText("CEO met", "neutral")]) == [
        "the test set has no rows labelled negative: macro-F1 counts such a label as F1 0 wherever the model "
        "predicts it"]
    assert split_notes(train, [LabelledText("Sales rose", "positive"), LabelledText("Sales fell", "negative"),
                               LabelledText("CEO met", "neutral")]) == []


def test_numeric_labels_are_ordered_as_numbers():
    from shared.evaluate import label_order

    assert sorted(["0", "1", "10", "11", "2", "-1"], key=label_order) == ["-1", "0", "1", "2", "10", "11"]
    assert sorted(["pos", "²", "neg"], key=label_order) == ["neg", "pos", "²"]  # a superscript is no number
    assert sorted(["007", "7", "-0", "0"], key=label_order) == ["-0", "0", "007", "7"]  # ties by the text
