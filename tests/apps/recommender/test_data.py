"""Reading items, interactions, candidates and the public layouts; bad input -> one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from apps.recommender.data import MAX_TEXT_CHARS, item_text, read_candidates, read_interactions, read_items
from apps.recommender.layouts import load_mind, load_movielens
from apps.recommender.tallrec import load_tallrec, parse_ctr_input
from shared.errors import DataError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def items(tmp_path: Path):
    return read_items(write(tmp_path / "items.csv", "item_id,title,description,category\n"
                            "A,Neon and Gin,Hard-boiled detectives,Crime\nB,Koji at Home,,Cooking\n"))


def test_item_text_joins_title_category_description() -> None:
    assert item_text("Neon and Gin", "Crime", "Hard-boiled.") == "Neon and Gin. Crime. Hard-boiled."
    assert item_text("Koji", "", "") == "Koji."
    assert len(item_text("Koji", "", "word " * 1_000_000)) == MAX_TEXT_CHARS  # a 5 MB description


def test_items_get_text_and_optional_columns(tmp_path: Path) -> None:
    frame = read_items(write(tmp_path / "i.csv", "item_id,title\nX,Only a title\n"))
    assert frame.loc[0, "text"] == "Only a title." and frame.loc[0, "category"] == ""


@pytest.mark.parametrize("body, problem", [
    ("item_id,title\nA,First\nA,Again\n", "row 3: duplicate row for item_id A — delete the repeated row$"),
    ("item_id,title\nA,\n", "row 2: empty 'title'"),
    ("item_id,description\nA,text\n", "missing column(s) title"),
])
def test_bad_items_name_file_and_row(tmp_path: Path, body: str, problem: str) -> None:
    with pytest.raises(DataError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        read_items(write(tmp_path / "items.csv", body))


def test_interactions_parse_labels_and_timestamps(tmp_path: Path, items) -> None:
    frame = read_interactions(write(tmp_path / "x.csv", "user_id,item_id,label,timestamp\n"
                                    "u1,A,1,100\nu1,B,0,200\n"), items)
    assert frame["label"].tolist() == [1, 0] and frame["timestamp"].tolist() == [100, 200]
    floats = read_interactions(write(tmp_path / "f.csv", "user_id,item_id,label\nu1,A,1.0\nu1,B,0.0\n"), items)
    assert floats["label"].tolist() == [1, 0]  # as many exports write them
    no_time = read_interactions(write(tmp_path / "y.csv", "user_id,item_id,label\nu1,A,1\n"))
    assert no_time["timestamp"].tolist() == [0]
    dated = read_interactions(write(tmp_path / "z.csv", "user_id,item_id,label,timestamp\n"
                                    "u1,A,1,1970-01-01T00:01:40Z\nu1,B,0,1970-01-02\nu2,A,1,300\n"), items)
    assert dated["timestamp"].tolist() == [100, 86400, 300]


@pytest.mark.parametrize("rows, problem", [
    ("u1,A,yes,1", "row 2: label must be 0 or 1, got 'yes'"),
    ("u1,Z,1,1", "row 2: unknown item_id 'Z'"),
    ("u1,A,1,1\nu1,A,1,1", "row 3: duplicate row"),
    ("u1,A,1,soon", "row 2: timestamp must be a number"),
    ("u1,A,1,inf", r"row 2: timestamp must be a number of seconds since 1970 \(Unix time\) or an ISO 8601 date, "
                   "got 'inf'"),
    ("u1,A,1,1e30", "row 2: timestamp .* got '1e30' — write seconds since 1970"),
    ("u1,A,1,1764000000000", "got '1764000000000' — it looks like milliseconds: divide by 1000"),
    ("u1,A,1,-5", "row 2: timestamp .* got '-5'"),
    ("u1,A,1,5\nu1,B,0,", "row 3: empty 'timestamp' — fill the cell or delete the row"),  # not "drop the column"
    ("u1,A,1,\nu1,B,0,", "x.csv: the timestamp column is empty — fill it or drop the column"),
])
def test_bad_interactions_are_one_clear_line(tmp_path: Path, items, rows: str, problem: str) -> None:
    path = write(tmp_path / "x.csv", "user_id,item_id,label,timestamp\n" + rows + "\n")
    with pytest.raises(DataError, match=problem) as err:
        read_interactions(path, items)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_repeated_rows_without_timestamps_are_refused(tmp_path: Path, items) -> None:
    """Row order is the time then, so a copied row must be caught on (user, item, label)."""
    shown_then_taken = write(tmp_path / "ok.csv", "user_id,item_id,label\nu1,A,0\nu1,A,1\n")
    assert read_interactions(shown_then_taken, items)["timestamp"].tolist() == [0, 1]
    copied = write(tmp_path / "x.csv", "user_id,item_id,label\nu1,A,1\nu1,B,0\nu1,A,1\n")
    with pytest.raises(DataError, match="row 4: duplicate row for user_id u1, item_id A, label 1 — .*add a "
                                        "timestamp column"):
        read_interactions(copied, items)


def test_a_repeated_row_is_quoted_as_the_file_writes_it(tmp_path: Path, items) -> None:
    """The timestamp was quoted as Unix seconds in a list (``['U13', 'BK046', '1736298000']``),
    where the file has 2025-01-08T01:00:00Z: nothing the user could search for."""
    dated = write(tmp_path / "x.csv", "user_id,item_id,label,timestamp\nU13,A,1,1736298000\n"
                                      "U13,A,1,2025-01-08T01:00:00Z\n")
    with pytest.raises(DataError) as err:
        read_interactions(dated, items)
    assert str(err.value) == (f"{dated}, row 3: duplicate row for user_id U13, item_id A, timestamp "
                              "2025-01-08T01:00:00Z — delete the repeated row")
    floats = write(tmp_path / "f.csv", "user_id,item_id,label\nu1,A,1\nu1,A,1.0\n")
    with pytest.raises(DataError, match="row 3: duplicate row for user_id u1, item_id A, label 1.0 — "):
        read_interactions(floats, items)


def test_candidates_empty_or_unknown_items_refused(tmp_path: Path, items) -> None:
    with pytest.raises(DataError, match="has no data rows"):
        read_candidates(write(tmp_path / "c.csv", "user_id,item_id\n"), items)
    with pytest.raises(DataError, match="unknown item_id 'nope'"):
        read_candidates(write(tmp_path / "d.csv", "user_id,item_id\nu1,nope\n"), items)


def test_every_unknown_item_is_counted_in_the_one_line(tmp_path: Path, items) -> None:
    """Only the first was named, so ten unknown items took ten runs to find."""
    rows = "".join(f"u{n},SKU{90 + n},1,{n}\n" for n in range(10)) + "u1,SKU90,0,99\n"
    path = write(tmp_path / "x.csv", "user_id,item_id,label,timestamp\nu0,A,1,0\n" + rows)
    with pytest.raises(DataError) as err:
        read_interactions(path, items)
    assert str(err.value) == (f"{path}, row 3: unknown item_id 'SKU90' (11 rows name 10 unknown items: SKU90, "
                              "SKU91, SKU92, and 7 more) — add the items to the items file or drop those rows")
    one_item = write(tmp_path / "c.csv", "user_id,item_id\nu1,nope\nu2,nope\n")
    with pytest.raises(DataError, match=r"row 2: unknown item_id 'nope' \(2 rows name 1 unknown item: nope\) — "
                                        "add the item to the items file or drop those rows$"):
        read_candidates(one_item, items)


def test_every_repeated_row_is_counted_in_the_one_line(tmp_path: Path, items) -> None:
    body = "user_id,item_id\n" + "u1,A\nu1,B\n" * 3 + "\nu2,A\nu1,A\n"
    with pytest.raises(DataError) as err:
        read_candidates(write(tmp_path / "c.csv", body), items)
    # the repeats are rows 4, 5, 6, 7 and 10 (a blank line at 8 keeps the file's numbers)
    assert str(err.value).endswith(", row 4: duplicate row for user_id u1, item_id A (5 rows repeat an "
                                   "earlier one: rows 4, 5, 6, and 2 more) — delete the repeated rows")
    copied = write(tmp_path / "x.csv", "user_id,item_id,label\nu1,A,1\nu1,A,1\nu1,A,1\n")
    with pytest.raises(DataError, match=r"row 3: .* \(2 rows repeat an earlier one: rows 3, 4\) — delete the "
                                        "repeated rows, or add a timestamp column to keep repeats$"):
        read_interactions(copied, items)


def test_ids_lose_the_spaces_around_them(tmp_path: Path) -> None:
    """A CSV export's padding: ``" SKU004"`` was an unknown item of a catalogue listing SKU004."""
    items = read_items(write(tmp_path / "i.csv", "item_id,title\nSKU004 ,Beans\n"))
    rows = read_interactions(write(tmp_path / "x.csv", 'user_id,item_id,label\n" u1 ", SKU004,1\n'), items)
    pairs = read_candidates(write(tmp_path / "c.csv", "user_id,item_id\nu1\t,  SKU004\n"), items)
    assert items["item_id"].tolist() == ["SKU004"] and items["title"].tolist() == ["Beans"]
    assert rows[["user_id", "item_id"]].values.tolist() == pairs.values.tolist() == [["u1", "SKU004"]]


def test_numeric_user_ids_are_listed_in_number_order(tmp_path: Path) -> None:
    """The dashboard's user picker read '1', '10', '11', ..., '2' (ids sorted as text)."""
    from apps.recommender.service import RecommenderService

    write(tmp_path / "i.csv", "item_id,title\nA,Beans\n")
    ids = ["10", "2", "U10", "1", "U9", "11", "007"]
    write(tmp_path / "x.csv", "user_id,item_id,label\n" + "".join(f"{u},A,1\n" for u in ids))
    users = RecommenderService(tmp_path / "i.csv", tmp_path / "x.csv").users()
    assert users == ["1", "2", "007", "10", "11", "U9", "U10"]


def test_tallrec_movie_and_book_layouts(tmp_path: Path) -> None:
    movie = ('User Preference: "Heat (1995)", "Fargo (1996)"\nUser Unpreference: "Cats (2019)"\n'
             'Whether the user will like the target movie "Alien (1979)"?')
    assert parse_ctr_input(movie) == (("Heat (1995)", "Fargo (1996)"), ("Cats (2019)",),
                                      "Alien (1979)")
    book = ('User Preference: "Kiss the Girls" written by James Patterson\nUser Unpreference: \n'
            'Whether the user will like the target book ""The Colonel" written by P. Davis"?')
    liked, disliked, target = parse_ctr_input(book)
    assert liked == ("Kiss the Girls by James Patterson",) and disliked == ()
    assert target == "The Colonel by P. Davis"
    path = tmp_path / "valid.json"
    path.write_text(json.dumps([{"instruction": "", "input": movie, "output": "Yes."},
                                {"instruction": "", "input": movie, "output": "No."}]))
    assert [e.label for e in load_tallrec(path)] == [1, 0]
    path.write_text(json.dumps([{"input": movie, "output": "Maybe"}]))
    with pytest.raises(DataError, match="row 1: output must be 'Yes.' or 'No.'"):
        load_tallrec(path)


@pytest.mark.parametrize(("content", "problem"), [
    ({"input": "x", "output": "Yes."}, r"valid.json: top level must be a list of records, got "
                                       "dict"),
    ([{"input": 'Whether the user will like the target movie "Heat (1995)"?',
       "output": "Yes."}, 3], r"valid.json, row 2: record must be an object"),
    ([1, 2], r"valid.json, row 1: record must be an object .* got int"),
    ([{"output": "Yes."}], r"valid.json, row 1: record has no 'input' — fix or drop the record"),
    ([{"input": 'Whether the user will like the target movie "Heat (1995)"?', "output": "Maybe."}],
     r"valid.json, row 1: output must be 'Yes.' or 'No.', got 'Maybe.'"),  # as written, not lower-cased
    ([{"input": "Whether the user will like the target", "output": "No."}],
     r"valid.json, row 1: no target title in 'input' — end the input with a line like"),
    ([{"input": 'User Preference: "Heat (1995)"\nWhether the user will like the target movie?',
       "output": "Yes."}], r"valid.json, row 1: no target title"),
    ([{"input": "Whether the user will like the targets", "output": "Yes."}],
     r"valid.json, row 1: no target title"),
])
def test_tallrec_wrong_shape_is_one_clear_line(tmp_path: Path, content: object,
                                               problem: str) -> None:
    path = tmp_path / "valid.json"
    path.write_text(json.dumps(content))
    with pytest.raises(DataError, match=problem):
        load_tallrec(path)


def test_movielens_layout(tmp_path: Path) -> None:
    write(tmp_path / "movies.csv", "movieId,title,genres\n1,Toy Story (1995),Animation|Comedy\n"
          "2,Heat (1995),Action|Crime\n3,Paterson (2016),(no genres listed)\n")
    write(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.5,10\n1,2,2.0,20\n")
    write(tmp_path / "tags.csv", "userId,movieId,tag,timestamp\n1,1,Pixar,5\n2,1,pixar,6\n"
          "1,3,quirky,7\n")
    items, interactions = load_movielens(tmp_path)
    assert items.loc[0, "text"] == "Toy Story (1995). Genres: Animation, Comedy. Tags: pixar."
    assert items.loc[2, "text"] == "Paterson (2016). Tags: quirky."
    assert interactions["label"].tolist() == [1, 0] and items.loc[1, "category"] == "Action"
    with pytest.raises(DataError, match=r"ratings.csv: no rating of a film in movies.csv reaches --min-rating 9 "
                                        r"\(they run 2 to 4.5\)"):
        load_movielens(tmp_path, min_rating=9)  # a 0.5-5 scale: it wrote a file with nothing taken


def test_movielens_drops_unknown_films_and_names_a_bad_rating_or_time(tmp_path: Path) -> None:
    write(tmp_path / "movies.csv", "movieId,title,genres\n1,Toy Story (1995),Animation\n")
    write(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.5,10\n1,7,4.0,20\n")
    _, interactions = load_movielens(tmp_path)  # film 7 is not in movies.csv: `score` refused the file
    assert interactions["item_id"].tolist() == ["1"] and interactions.attrs["unknown_items"] == 1
    write(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.5,10\n\n1,1,four,20\n")
    with pytest.raises(DataError, match=r"ratings.csv, row 4: rating must be a number, got 'four'"):
        load_movielens(tmp_path)
    write(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.5,yesterday\n")
    with pytest.raises(DataError, match=r"ratings.csv, row 2: timestamp must be a number of seconds"):
        load_movielens(tmp_path)
    write(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n1,7,4.5,10\n")
    with pytest.raises(DataError, match=r"ratings.csv: no rating names a film that movies.csv lists"):
        load_movielens(tmp_path)


MIND_NEWS = ("N1\tsports\tfootball\tTeam wins the cup\tA late goal decided it.\thttp://x/1\t[]\t[]\n"
             "N2\tnews\tpolitics\tVote delayed\t\thttp://x/2\t[]\t[]\n"
             "N3\tfinance\tmarkets\tStocks rally\tShares rose.\thttp://x/3\t[]\t[]\n")


def test_mind_layout(tmp_path: Path) -> None:
    write(tmp_path / "news.tsv", MIND_NEWS)
    write(tmp_path / "behaviors.tsv", "1\tU1\t11/15/2019 10:22:32 AM\tN1 N2\tN3-1 N2-0\n"
          "2\tU2\t11/15/2019 11:00:00 AM\t\tN1-0 N3-1 N9-1\n3\tU1\t11/16/2019 8:00:00 PM\tN1 N2\tN1-1\n")
    items, interactions = load_mind(tmp_path)
    assert items["item_id"].tolist() == ["N1", "N2", "N3"] and items.loc[0, "description"] == "A late goal decided it."
    assert items.loc[2, "category"] == "finance"
    at = 1573813352  # 2019-11-15 10:22:32 UTC
    # the click history once, one second apart just before the user's first impression; N9 is unknown
    assert interactions.values.tolist() == [
        ["U1", "N1", 1, at - 2], ["U1", "N2", 1, at - 1], ["U1", "N3", 1, at], ["U1", "N2", 0, at],
        ["U1", "N1", 1, 1573934400], ["U2", "N1", 0, at + 2248], ["U2", "N3", 1, at + 2248]]
    assert interactions.attrs["unknown_items"] == 1


@pytest.mark.parametrize("behaviors, problem", [
    ("1\tU1\tyesterday\t\tN1-1\n", "behaviors.tsv, row 1: time 'yesterday' is not M/D/YYYY"),
    ("1\tU1\t11/15/2019 10:22:32 AM\t\tN1-1\n2\tU1\t11/15/2019 10:22:33 AM\t\tN1-yes\n",
     "row 2: impression 'N1-yes' is not NEWS_ID-1"),
    ("1\tU1\t11/15/2019 10:22:32 AM\tN1-1\n", "behaviors.tsv: has 4 columns, expected 5"),
])
def test_bad_mind_files_are_one_line(tmp_path: Path, behaviors: str, problem: str) -> None:
    write(tmp_path / "news.tsv", MIND_NEWS)
    write(tmp_path / "behaviors.tsv", behaviors)
    with pytest.raises(DataError, match=problem):
        load_mind(tmp_path)
    (tmp_path / "news.tsv").unlink()
    with pytest.raises(DataError, match="news.tsv: file not found — pass a MIND folder"):
        load_mind(tmp_path)


@pytest.mark.parametrize("rows, problem", [
    ("u1,A,yes,1", "row 5: label must be 0 or 1, got 'yes'"),
    ("u1,Z,1,2", "row 5: unknown item_id 'Z'"),
    ("u1,A,0,1", "row 5: duplicate row"),
    ("u1,A,1,soon", "row 5: timestamp must be a number"),
])
def test_rows_keep_their_file_numbers_after_blank_lines(tmp_path: Path, items, rows: str,
                                                        problem: str) -> None:
    """read_table drops blank lines; the row named is still the file's (header = row 1)."""
    path = write(tmp_path / "x.csv", "user_id,item_id,label,timestamp\n\nu1,A,0,1\n\n" + rows + "\n")
    with pytest.raises(DataError, match=problem):
        read_interactions(path, items)


def test_blank_lines_before_a_repeated_item_or_candidate_keep_row_numbers(tmp_path: Path,
                                                                         items) -> None:
    with pytest.raises(DataError, match="row 4: duplicate row for item_id"):
        read_items(write(tmp_path / "i.csv", "item_id,title\nA,One\n\nA,Again\n"))
    with pytest.raises(DataError, match="row 5: unknown item_id 'nope'"):
        read_candidates(write(tmp_path / "c.csv", "user_id,item_id\n\nu1,A\n\nu1,nope\n"), items)


@pytest.mark.parametrize("name", ["items.xlsx", "items.csv"])
def test_a_spreadsheet_is_called_one(tmp_path: Path, name: str) -> None:
    """A real .xlsx (a zip) read "line 1: not valid UTF-8 — re-save the file as UTF-8"."""
    import zipfile

    book = tmp_path / name
    with zipfile.ZipFile(book, "w", zipfile.ZIP_DEFLATED) as z:
        for part in ("[Content_Types].xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml"):
            z.writestr(zipfile.ZipInfo(part, (2025, 1, 8, 1, 0, 0)), "<?xml version='1.0'?><x>item_id</x>" * 20)
    with pytest.raises(DataError, match=r"spreadsheet.* — export it as CSV"):
        read_items(book)


@pytest.mark.parametrize("reader", ["items", "interactions", "candidates"])
def test_a_zero_byte_file_is_called_empty(tmp_path: Path, items, reader: str) -> None:
    empty = write(tmp_path / "empty.csv", "")
    read = {"items": read_items, "interactions": read_interactions,
            "candidates": lambda path: read_candidates(path, items)}[reader]
    with pytest.raises(DataError, match=r"empty.csv: is empty \(0 bytes\) — write the header "
                                        r"(item_id|user_id),") as err:
        read(empty)
    assert "\n" not in str(err.value)


def test_convert_writes_files_the_commands_read(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from apps.recommender.cli import app

    source = tmp_path / "ml"
    source.mkdir()
    write(source / "movies.csv", "movieId,title,genres\n1,Toy Story (1995),Animation|Comedy\n2,Heat (1995),Action\n")
    write(source / "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.5,10\n1,2,2.0,20\n")
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(app, ["convert", "movielens", str(source), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"items": str(out / "items.csv"), "interactions": str(out / "interactions.csv"),
                                         "item_rows": 2, "interaction_rows": 2, "taken": 1, "users": 1}
    items = read_items(out / "items.csv")
    assert items["text"].tolist() == ["Toy Story (1995). Animation. Genres: Animation, Comedy.",
                                      "Heat (1995). Action. Genres: Action."]
    assert read_interactions(out / "interactions.csv", items)["label"].tolist() == [1, 0]
    again = runner.invoke(app, ["convert", "movielens", str(source), "--out", str(out)])
    assert again.exit_code == 1 and "items.csv exists: pass --overwrite" in str(again.exception)
    higher = runner.invoke(app, ["convert", "movielens", str(source), "--out", str(out), "--min-rating", "5",
                                 "--overwrite"])
    assert higher.exit_code == 1 and "no rating of a film in movies.csv reaches --min-rating 5" in str(higher.exception)
    assert read_interactions(out / "interactions.csv")["label"].tolist() == [1, 0], "the earlier files stay"



def test_convert_tallrec_makes_each_example_a_user(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from apps.recommender.cli import app

    source = tmp_path / "valid.json"
    source.write_text(json.dumps([
        {"instruction": "", "output": "Yes.", "input": 'User Preference: "Heat (1995)", "Fargo (1996)"\n'
         'User Unpreference: "Cats (2019)"\nWhether the user will like the target movie "Up (2009)"?'},
        {"instruction": "", "output": "No.", "input": 'User Preference: "Up (2009)"\nUser Unpreference: \n'
         'Whether the user will like the target movie "Cats (2019)"?'}]))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["convert", "tallrec", str(source), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    items = read_items(out / "items.csv")
    assert sorted(items["title"]) == ["Cats (2019)", "Fargo (1996)", "Heat (1995)", "Up (2009)"]
    rows = read_interactions(out / "interactions.csv", items)
    title = dict(zip(items["item_id"], items["title"], strict=True))
    assert [(u, title[i], label) for u, i, label in rows[["user_id", "item_id", "label"]].values] == [
        ("valid-1", "Heat (1995)", 1), ("valid-1", "Fargo (1996)", 1), ("valid-1", "Cats (2019)", 0),
        ("valid-1", "Up (2009)", 1), ("valid-2", "Up (2009)", 1), ("valid-2", "Cats (2019)", 0)]
