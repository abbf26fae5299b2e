from __future__ import annotations

import numpy as np
import pytest

from apps.recommender.evaluation import ctr_features
from apps.recommender.tallrec import CtrExample
from shared import Embedder


def test_ctr_features_see_the_taste_and_the_like_share():
    examples = [
        CtrExample(("Alien (1979)", "Aliens (1986)"), ("Notting Hill (1999)",), "Alien 3 (1992)", 1),
        CtrExample(("Alien (1979)",), ("Aliens (1986)", "Predator (1987)", "Heat (1995)"),
                   "Notting Hill (1999)", 0),
        CtrExample((), ("Heat (1995)",), "Heat (1995)", 0),
    ]
    x = ctr_features(examples, Embedder("minilm"))
    assert x.shape == (3, 8) and np.isfinite(x).all()
    assert x[0, 0] > x[0, 2]  # an Alien sequel is closer to the liked Alien films
    assert x[0, 5] == 2 / 3 and x[1, 5] == 1 / 4 and x[2, 5] == 0.0  # share of likes
    assert x[2, 0] == 0.0 and x[2, 3] > 0.99  # no likes; the target itself was disliked
    priors = {"Alien 3 (1992)": (0.7, 0.4), "Heat (1995)": (0.3, 1.0)}
    with_priors = ctr_features(examples, Embedder("minilm"), priors)
    assert with_priors.shape == (3, 10) and np.array_equal(with_priors[:, :8], x)
    assert with_priors[:, 8:].tolist() == [[0.7, 0.4], [0.5, 0.0], [0.3, 1.0]]  # unknown: mean


def test_ctr_examples_ask_about_each_interaction_after_a_window():
    import pandas as pd

    from apps.recommender.profiles import ctr_examples

    items = pd.DataFrame({"item_id": ["a", "b", "c", "d"], "title": ["A", "B", "C", "D"]})
    interactions = pd.DataFrame({"user_id": ["u"] * 4 + ["v"], "item_id": ["a", "b", "c", "d", "a"],
                                 "label": [1, 0, 1, 0, 1], "timestamp": [1, 2, 3, 4, 1]})
    assert ctr_examples(interactions, items, history=2) == [
        CtrExample(("A",), ("B",), "C", 1), CtrExample(("C",), ("B",), "D", 0)]
    assert len(ctr_examples(interactions, items, history=1, limit=2)) == 2


def test_cli_train_ctr_then_eval_ctr_from_it(rec_home, tiny, tmp_path):
    """The scorer taught CTR questions from interactions is the start model of eval-ctr."""
    import json

    import pandas as pd
    from typer.testing import CliRunner

    from apps.recommender.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["train-ctr", "--items", str(tiny["items"]), "--interactions",
                                 str(tiny["interactions"]), "--examples", "60", "--history", "4",
                                 "--max-length", "64", "--name", "tiny-ctr", "--json"])
    assert result.exit_code == 0, result.output
    trained = json.loads(result.stdout.strip().splitlines()[-1])
    assert trained["name"] == "tiny-ctr" and trained["version"].startswith("v")
    assert 0 < trained["examples"] <= 60 and "metrics" not in trained, "flat, as every trainer"
    titles = pd.read_csv(tiny["items"], dtype=str)["title"].tolist()
    records = []
    for k in range(24):  # a user who likes the first half of the shelf and a target from either
        liked, disliked = titles[k % 5: k % 5 + 3], titles[-3:]
        records.append({"instruction": "", "output": "Yes." if k % 2 else "No.", "input":
                        "User Preference: " + ", ".join(f'"{t}"' for t in liked) +
                        "\nUser Unpreference: " + ", ".join(f'"{t}"' for t in disliked) +
                        f'\nWhether the user will like the target movie "{titles[k]}"?'})
    for split, rows in (("a", records[:12]), ("b", records[12:])):
        (tmp_path / f"{split}.json").write_text(json.dumps(rows))
    result = runner.invoke(app, ["eval-ctr", "--train", str(tmp_path / "a.json"), "--test",
                                 str(tmp_path / "b.json"), "--base", "tiny-ctr", "--epochs", "1",
                                 "--max-length", "64", "--name", "tiny-eval", "--items",
                                 str(tiny["items"]), "--interactions", str(tiny["interactions"]),
                                 "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout.strip().splitlines()[-1])
    assert 0.0 <= scores["auc"] <= 1.0 and scores["train"] == 12 and scores["test"] == 12
    assert scores["prior_coverage"] == 1.0  # every target is a title of the log's items
    from shared import get_registry

    names = get_registry().names()
    assert "tiny-eval" in names and not any(n.startswith("tiny-eval-fold") for n in names), \
        "only the final scorer stays registered; the fold models were intermediate"
    alone = runner.invoke(app, ["eval-ctr", "--train", str(tmp_path / "a.json"), "--test",
                                str(tmp_path / "b.json"), "--items", str(tiny["items"])])
    assert "--items and --interactions go together" in str(alone.exception)


@pytest.mark.parametrize("bad", ["train", "test"])
def test_eval_ctr_refuses_a_file_with_one_answer_before_training(home, tmp_path, bad):
    import json

    from typer.testing import CliRunner

    from apps.recommender.cli import app
    from shared import get_registry
    from shared.errors import DataError

    question = ('User Preference: "Heat (1995)"\nUser Unpreference: "Cats (2019)"\n'
                'Whether the user will like the target movie "Alien (1979)"?')
    for split in ("train", "test"):
        answers = ["Yes."] * 3 if split == bad else ["Yes.", "No.", "No."]
        (tmp_path / f"{split}.json").write_text(json.dumps(
            [{"instruction": "", "input": question, "output": a} for a in answers]))
    result = CliRunner().invoke(app, ["eval-ctr", "--train", str(tmp_path / "train.json"),
                                      "--test", str(tmp_path / "test.json")])
    assert isinstance(result.exception, DataError)
    assert str(result.exception) == (f"{tmp_path / f'{bad}.json'}: every record answers 'Yes.'; "
                                     "training and AUC need both answers — add records answered "
                                     "'No.'")
    assert get_registry().names() == [], "nothing is trained before the files are checked"


def test_eval_ctr_refuses_a_single_no_before_training(home):
    """Each fold trains a text model on the other half: a lone "No." leaves one half without."""
    from apps.recommender.evaluation import evaluate_ctr
    from shared import get_registry
    from shared.errors import VerticalsError

    train = [CtrExample(("Heat (1995)",), (), f"Film {k}", int(k > 0)) for k in range(6)]
    test = [CtrExample(("Heat (1995)",), (), "Alien (1979)", label) for label in (0, 1)]
    with pytest.raises(VerticalsError, match="at least two Yes and two No answers .* got 1"):
        evaluate_ctr(train, test, "ctr-one-no")
    assert get_registry().names() == []
