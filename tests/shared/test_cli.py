from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import toy_rows

ROOT = Path(__file__).resolve().parents[2]


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "VERTICALS_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "shared", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)


def test_classify_json_registers_and_lists(tmp_path, toy_files):
    train, test = toy_files
    done = run_cli(tmp_path, "finetune", "classify", "--train", str(train), "--test", str(test), "--epochs", "1",
                   "--batch-size", "8", "--max-length", "24", "--name", "toy", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # stdout is exactly one JSON object; progress went to stderr
    assert result["version"] == "v1" and 0 <= result["accuracy"] <= 1 and "per_class" in result
    listed = json.loads(run_cli(tmp_path, "models", "list", "--json").stdout)
    assert [m["name"] for m in listed["models"]] == ["toy"]
    shown = run_cli(tmp_path, "models", "show", "toy")
    assert shown.stderr.strip() == ("toy v1: current: it is what loads by name; not exported: torch serves it "
                                    "(`verticals models export toy` measures the faster forms)")
    shown = json.loads(shown.stdout)
    assert shown["metrics"]["accuracy"] == result["accuracy"]
    pinned = run_cli(tmp_path, "models", "show", "toy@v1")  # a version in the name
    assert pinned.returncode == 0 and pinned.stderr.startswith("toy v1: current")
    # the toy task has 72 texts: its test rows repeat training ones, and the run says so
    [note] = result["notes"]
    assert note.endswith("test rows have a text the training rows hold too: their scores are not held out")
    assert f"note: {note}" in done.stderr and shown["warning"] == note
    assert shown["columns"] == {"text": "text", "label": "label"}  # what `retrain` reads new rows by


def test_a_run_without_a_test_set_says_what_it_scored_once(tmp_path, toy_files):
    train, _ = toy_files
    thin = tmp_path / "thin.csv"  # a label with 2 rows gives a note before training
    thin.write_text(train.read_text() + "odd one,rare\nodd two,rare\n")
    done = run_cli(tmp_path, "finetune", "classify", "--train", str(thin), "--val-fraction", "0", "--epochs", "1",
                   "--batch-size", "8", "--max-length", "16", "--name", "blind")
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("no --test: the model is registered without scores") == 1
    assert done.stderr.count("rare (2)") == 1 and "rare" not in done.stdout  # a note once, not again on stdout
    carved = run_cli(tmp_path, "finetune", "classify", "--train", str(train), "--epochs", "1",
                     "--batch-size", "8", "--max-length", "16", "--name", "carved", "--json")
    assert any(n.startswith("no --test: its scores are the validation split's") for n in
               json.loads(carved.stdout)["notes"])


def test_a_worse_run_under_a_serving_name_says_how_to_go_back(tmp_path, toy_files, home):
    from shared.registry import Registry

    Registry(tmp_path / "models").save("toy", lambda d: None, {"kind": "classifier", "metrics": {"macro_f1": 1.0}})
    train, test = toy_files  # 4 tokens read no sentiment word ("[CLS] the product was"): a poor model
    done = run_cli(tmp_path, "finetune", "classify", "--train", str(train), "--test", str(test), "--epochs", "1",
                   "--batch-size", "16", "--max-length", "4", "--name", "toy", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["version"] == "v2" and result["macro_f1"] < 1.0
    assert result["notes"][-1] == (f"v2 scores macro-F1 {result['macro_f1']:.4f}, below v1's 1.0000 (each on its "
                                   "own test set), and now serves: `verticals models rollback toy` returns to v1")


def test_classify_fits_every_row_with_a_probe_when_asked(tmp_path, toy_files):
    train, test = toy_files  # the recipe of the README's Banking77 figure
    done = run_cli(tmp_path, "finetune", "classify", "--train", str(train), "--test", str(test), "--epochs", "1",
                   "--batch-size", "16", "--max-length", "16", "--val-fraction", "0", "--embedding-head", "minilm",
                   "--name", "toy", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert 0 <= result["model_accuracy"] <= 1 and 0 <= result["accuracy"] <= 1  # alone, and with the probe
    card = json.loads(run_cli(tmp_path, "models", "show", "toy").stdout)
    assert card["params"]["val_fraction"] == 0 and card["params"]["embedding_head"] == "minilm"
    assert card["train_rows"] == 96 and "val_accuracy" not in card["history"][0]  # no row held back
    assert (tmp_path / "models" / "toy" / "v1" / "embedding_head.npz").is_file()
    refused = run_cli(tmp_path, "finetune", "classify", "--train", str(train), "--val-fraction", "0.7", "--name", "x")
    assert refused.returncode == 1 and "--val-fraction must be in [0, 0.5), got 0.7" in refused.stderr


def test_models_list_shows_a_model_with_no_promoted_version(tmp_path):
    from shared.registry import Registry

    Registry(tmp_path / "models").save("intents", lambda d: None, {"kind": "classifier"}, promote=False)
    listed = run_cli(tmp_path, "models", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)["models"]
    assert (row["name"], row["current"], row["versions"]) == ("intents", None, ["v1"])
    plain = run_cli(tmp_path, "models", "list")
    assert plain.returncode == 0 and plain.stdout.splitlines()[1].split()[:3] == ["intents", "-", "classifier"]
    Registry(tmp_path / "models").save("broken", lambda d: None, {"kind": "classifier"})
    (tmp_path / "models" / "broken" / "v1" / "card.json").write_text("{bad")
    damaged = run_cli(tmp_path, "models", "list")  # the other models are still listed
    assert damaged.returncode == 0 and "intents" in damaged.stdout and "Traceback" not in damaged.stderr
    assert "card.json: unreadable card (JSONDecodeError" in damaged.stderr
    shown = run_cli(tmp_path, "models", "show", "broken")
    assert shown.returncode == 1 and shown.stderr.count("\n") == 1 and "unreadable card" in shown.stderr


def test_lora_run_prints_no_library_warnings(tmp_path, toy_files):
    train, _ = toy_files
    done = run_cli(tmp_path, "finetune", "classify", "--train", str(train), "--lora", "--epochs", "1",
                   "--batch-size", "16", "--max-length", "16", "--name", "toy-lora", "--json")
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr and "deprecated" not in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"sentence,label\nhi,a\n", "missing column"),
        (b"text,label\nhi,a\nho,a\n", "only 1 class"),
        (b"text,label\nhi,a\n,b\n", "row 3: empty 'text'"),
        (b"text,label\nhi,a\ncaf\xe9,b\n", "line 3: not valid UTF-8"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(tmp_path, content, expected):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    done = run_cli(tmp_path / "home", "finetune", "classify", "--train", str(bad), "--name", "x")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("error: ") and expected in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "home" / "models" / "x").exists()


def test_missing_column_names_an_option_only_where_there_is_one(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("sentence,label\nhi,a\n")
    classify = run_cli(tmp_path / "home", "finetune", "classify", "--train", str(bad), "--name", "x")
    assert classify.stderr.strip().endswith("add them to the header or pass --text-col/--label-col")
    contrastive = run_cli(tmp_path / "home", "finetune", "contrastive", "--pairs", str(bad), "--name", "x")
    assert contrastive.returncode == 1 and "missing column(s) query, positive" in contrastive.stderr
    assert contrastive.stderr.strip().endswith("add them to the header or pass --query-col/--positive-col")
    corpus = run_cli(tmp_path / "home", "finetune", "mlm", "--corpus", str(bad), "--name", "x")
    assert corpus.stderr.strip().endswith("missing column(s) text (found: sentence, label) — add them to the "
                                          "header or pass --text-col")


def test_unseen_test_label_is_named(tmp_path, toy_files):
    train, _ = toy_files
    test = tmp_path / "test.csv"
    test.write_text("text,label\nfine,pos\nodd one,mystery\n")
    done = run_cli(tmp_path, "finetune", "classify", "--train", str(train), "--test", str(test), "--name", "x")
    assert done.returncode == 1 and "row 3: label 'mystery' does not occur in the training data" in done.stderr
    test.write_text("text,label\n\n\nfine,pos\nodd one,mystery\n")  # blank lines keep their numbers
    done = run_cli(tmp_path, "finetune", "classify", "--train", str(train), "--test", str(test), "--name", "x")
    assert done.returncode == 1 and "row 5: label 'mystery'" in done.stderr


def test_explain_refuses_what_is_not_a_classifier(tmp_path):
    model = tmp_path / "models" / "ret" / "v1"
    model.mkdir(parents=True)
    (model / "card.json").write_text(json.dumps({"kind": "biencoder", "labels": []}))
    (model / "config.json").write_text("{}")
    done = run_cli(tmp_path, "models", "explain", "ret", "where is my parcel")
    assert done.returncode == 1 and "ret is a biencoder: explain needs a classifier" in done.stderr
    assert "Traceback" not in done.stderr


def test_explain_a_cross_encoder_needs_the_pair(tmp_path, full_model, session_registry):
    import shutil

    model = tmp_path / "models" / "interest" / "v1"
    shutil.copytree(session_registry.path("toy-full"), model, ignore=shutil.ignore_patterns("export"))
    card = json.loads((model / "card.json").read_text())
    (model / "card.json").write_text(json.dumps(card | {"kind": "cross_encoder", "name": "interest"}))
    alone = run_cli(tmp_path, "models", "explain", "interest", "the app was great today")
    assert alone.returncode == 1 and "Traceback" not in alone.stderr
    assert alone.stderr.strip() == ("error: interest is a cross-encoder: it scores a pair — pass --pair TEXT, "
                                    "the passage or item that TEXT is scored against")
    paired = run_cli(tmp_path, "models", "explain", "interest", "the app was great today", "--pair", "delivery",
                     "--json")
    assert paired.returncode == 0, paired.stderr
    result = json.loads(paired.stdout)
    assert [w for w, _ in result["attributions"]] == ["the", "app", "was", "great", "today"]  # TEXT's words
    assert result["label"] in ("pos", "neg") and 0.5 <= result["probability"] <= 1


def test_missing_model_names_what_to_do(tmp_path):
    done = run_cli(tmp_path, "models", "export", "nope")
    assert done.returncode == 1 and "model 'nope' not found" in done.stderr and not done.stdout
    done = run_cli(tmp_path, "models", "show", "nope", "--json")  # a script piping --json gets it too
    assert done.returncode == 1 and json.loads(done.stdout)["error"] == done.stderr.strip().removeprefix("error: ")


def test_cross_encoder_export_is_checked_on_pairs(tmp_path):
    model = tmp_path / "models" / "rerank" / "v1"
    model.mkdir(parents=True)
    (model / "card.json").write_text(json.dumps({"kind": "cross_encoder"}))
    (model / "config.json").write_text("{}")
    done = run_cli(tmp_path, "models", "export", "rerank")
    assert done.returncode == 1 and "--texts FILE with query,passage columns" in done.stderr
    single = tmp_path / "texts.csv"
    single.write_text("text\nhello\n")
    done = run_cli(tmp_path, "models", "export", "rerank", "--texts", str(single))
    assert done.returncode == 1 and "missing column" in done.stderr and "Traceback" not in done.stderr


def test_export_refuses_a_ranker_in_one_line(tmp_path):
    model = tmp_path / "models" / "demo-ranker" / "v1"
    model.mkdir(parents=True)
    (model / "card.json").write_text(json.dumps({"kind": "ranker", "labels": ["0", "1"]}))
    (model / "ranker.json").write_text("{}")
    texts = tmp_path / "texts.txt"
    texts.write_text("hello\n")
    for extra in ([], ["--texts", str(texts)]):
        done = run_cli(tmp_path, "models", "export", "demo-ranker", *extra)
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert done.stderr.strip() == "error: demo-ranker is a ranker: it has no transformer to export"
    explained = run_cli(tmp_path, "models", "explain", "demo-ranker", "some text")  # had been "holds no model"
    assert explained.stderr.strip() == "error: demo-ranker is a ranker: explain needs a classifier"


def test_export_refuses_a_classifier_as_an_embedder_in_one_line(tmp_path):
    model = tmp_path / "models" / "intents" / "v1"
    model.mkdir(parents=True)
    (model / "card.json").write_text(json.dumps({"kind": "classifier", "labels": ["a", "b"]}))
    (model / "config.json").write_text("{}")
    done = run_cli(tmp_path, "models", "export", "intents", "--embedder")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "intents is a classifier: it serves labels" in done.stderr
    assert not (model / "export").exists()


def test_export_checks_a_biencoder_on_its_held_out_pairs(tmp_path):
    import shutil

    from shared.models import resolve_model

    model = tmp_path / "models" / "retriever" / "v1"
    shutil.copytree(resolve_model("minilm"), model)
    (model / "card.json").write_text(json.dumps({"kind": "biencoder", "labels": []}))
    done = run_cli(tmp_path, "models", "export", "retriever", "--no-int8")
    assert done.returncode == 1 and "retriever keeps no texts to check agreement on: pass --texts FILE" in done.stderr
    # what train_biencoder keeps: its held-out pairs; both sides are checked, each text once
    (model / "eval_pairs.csv").write_text("query,positive\nlost card,Report a lost card\n"
                                          "card stolen,Report a lost card\nreset password,How to reset it\n")
    done = run_cli(tmp_path, "models", "export", "retriever", "--no-int8", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["kind"] == "embedder" and report["check_texts"] == 5 and report["onnx_agreement"] == 1.0
    assert list(report["files"]) == ["onnx"] and report["files"]["onnx"].endswith(" MB)")  # where it went
    assert "not_served" not in report, "said only when a form is refused"


def test_toy_rows_are_balanced_enough():
    labels = [r.label for r in toy_rows(96, 0)]
    assert 30 < labels.count("pos") < 66


def test_both_retrain_commands_print_one_schema(monkeypatch, tmp_path):
    """`finetune retrain --json` and `finance retrain --json` print RetrainReport.to_dict()."""
    from contextlib import nullcontext

    from typer.testing import CliRunner

    import shared.retraining
    from apps.finance_monitor import cli as finance_cli
    from shared.cli import app as core_app
    from shared.retraining import RetrainReport

    report = RetrainReport("intents", "v2", True, "macro_f1 0.9000 >= 0.8000 (old): promoted", "v1",
                           {"accuracy": 0.8, "macro_f1": 0.8}, {"accuracy": 0.9, "macro_f1": 0.9}, "v2")
    monkeypatch.setattr(shared.retraining, "retrain", lambda name, rows: report)
    service = type("Service", (), {"retrain": lambda self, field: report})()
    monkeypatch.setattr(finance_cli, "_service", lambda config: nullcontext(service))
    data = tmp_path / "new.csv"
    data.write_text("text,label\nfine,pos\n")
    core = CliRunner().invoke(core_app, ["finetune", "retrain", "intents", "--data", str(data), "--json"])
    finance = CliRunner().invoke(finance_cli.app, ["retrain", "sentiment", "--json"])
    assert core.exit_code == 0 and finance.exit_code == 0, (core.output, finance.output)
    assert json.loads(core.stdout) == json.loads(finance.stdout) == report.to_dict()
    assert RetrainReport(**json.loads(core.stdout)) == report
    readable = CliRunner().invoke(core_app, ["finetune", "retrain", "intents", "--data", str(data)])
    assert "current: v2" in readable.stdout and "  macro_f1: 0.9000" in readable.stdout


def test_retrain_reads_new_rows_by_the_columns_the_model_was_trained_from(monkeypatch, tmp_path, home):
    from typer.testing import CliRunner

    import shared.retraining
    from shared.cli import app as core_app
    from shared.registry import Registry
    from shared.retraining import RetrainReport

    Registry().save("b77", lambda d: None, {"kind": "classifier", "columns": {"text": "utterance", "label": "intent"}})
    got, report = [], RetrainReport("b77", "v2", True, "promoted", "v1", {}, {}, "v2")
    monkeypatch.setattr(shared.retraining, "retrain", lambda name, rows: got.extend(rows) or report)
    data = tmp_path / "new.csv"
    data.write_text("utterance,intent\nmy card was swallowed,card_swallowed\n")
    done = CliRunner().invoke(core_app, ["finetune", "retrain", "b77", "--data", str(data), "--json"])
    assert done.exit_code == 0, done.output
    assert [(r.text, r.label) for r in got] == [("my card was swallowed", "card_swallowed")]


def test_a_folder_that_holds_no_model_is_one_line(tmp_path, home) -> None:
    from shared.errors import ModelNotFoundError
    from shared.models import resolve_model

    empty, blank, broken = tmp_path / "empty", tmp_path / "blank", tmp_path / "broken"
    for folder in (empty, blank, broken):
        folder.mkdir()
    (blank / "config.json").write_text("{}")
    (broken / "config.json").write_text('{"model_type": "bert"}')
    (broken / "card.json").write_text("{not json")
    for folder, problem in ((empty, r"holds no model \(no config.json\)"),
                            (blank, "config.json names no model_type"),
                            (broken, "card.json is not readable JSON")):
        with pytest.raises(ModelNotFoundError, match=problem) as raised:
            resolve_model(folder)
        assert "\n" not in str(raised.value)


def test_models_show_promote_and_rollback_take_json(home) -> None:
    from typer.testing import CliRunner

    from shared.cli import app as core_app
    from shared.registry import Registry

    registry = Registry()
    for accuracy in (0.8, 0.9):
        registry.save("toy", lambda d: None, {"kind": "classifier", "metrics": {"accuracy": accuracy}})
    runner = CliRunner()
    promoted = runner.invoke(core_app, ["models", "promote", "toy", "v1", "--json"])
    assert json.loads(promoted.stdout) == {"name": "toy", "current": "v1"}
    rolled = runner.invoke(core_app, ["models", "rollback", "toy", "--json"])
    assert json.loads(rolled.stdout) == {"name": "toy", "current": "v2"}
    shown = runner.invoke(core_app, ["models", "show", "toy", "--json"])
    assert len(shown.stdout.strip().splitlines()) == 1 and json.loads(shown.stdout)["metrics"]["accuracy"] == 0.9


def test_mlm_takes_its_lengths_and_depth_and_says_when_its_held_out_texts_are_few(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("".join(f"revenue rose {i}% on loan growth\nshares fell {i}% after the report\n"
                              for i in range(15)))
    done = run_cli(tmp_path, "finetune", "mlm", "--corpus", str(corpus), "--name", "enc", "--max-length", "16",
                   "--batch-size", "8", "--layers", "2", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["notes"] == [f"only {result['n_heldout_texts']} held-out text(s): the perplexities are a "
                               "rough guide"]
    card = json.loads(run_cli(tmp_path, "models", "show", "enc").stdout)
    assert card["params"]["max_length"] == 16 and card["params"]["batch_size"] == 8
    assert card["params"]["layers"] == 2  # and the registered encoder is that deep:
    assert json.loads((tmp_path / "models" / "enc" / "v1" / "config.json").read_text())["num_hidden_layers"] == 2


def test_ctrl_c_says_what_was_kept(tmp_path):
    """Interrupted, the CLI exited 130 without a word: a user could not tell what was left."""
    import signal

    # subtle: a shell script's background job starts with SIGINT ignored, and Python then leaves
    # it ignored: the child takes Ctrl-C's default back, as a terminal gives it
    napping = ("import signal, sys, time, shared.cli as c\n"
               "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
               "@c.app.command('nap')\n"
               "def nap():\n    print('ready', file=sys.stderr, flush=True)\n    time.sleep(60)\n"
               "sys.argv = ['verticals', 'nap']\nc.main()\n")
    started = subprocess.Popen([sys.executable, "-c", napping], cwd=ROOT, text=True, stderr=subprocess.PIPE,
                               env={**os.environ, "VERTICALS_HOME": str(tmp_path)})
    assert started.stderr.readline().strip() == "ready"  # inside a command, as a user's Ctrl-C lands
    started.send_signal(signal.SIGINT)
    _, err = started.communicate(timeout=60)
    assert started.returncode == 130 and "interrupted: model versions and outputs are written whole" in err


def test_sigterm_stops_a_command_as_ctrl_c_does_and_says_so(tmp_path: Path) -> None:
    """SIGTERM (cron, systemd, Kubernetes) ended a batch job without a word."""
    import signal

    script = ("import sys, time\nfrom shared import cli\n"
              "@cli.app.command('nap')\ndef nap():\n    print('started', flush=True)\n    time.sleep(60)\n"
              "sys.argv = ['verticals', 'nap']\ncli.main()\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=Path(__file__).resolve().parents[2],
                            env={**os.environ, "VERTICALS_HOME": str(tmp_path)})
    assert proc.stdout.readline().strip() == "started"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and err.startswith("interrupted: "), err


def test_a_group_lists_each_command_in_one_run_of_text() -> None:
    """Typer's rich help kept a docstring's line breaks in the group's list: "fit the ranker on a" / "later period"."""
    import typer

    from shared.cli import _one_line_summaries

    group, sub = typer.Typer(), typer.Typer()

    @sub.command()
    def train() -> None:
        """Tune the models, fit the ranker on a
        later period, register all.

        Details."""

    group.add_typer(sub, name="rec")
    _one_line_summaries(group)
    assert sub.registered_commands[0].short_help == "Tune the models, fit the ranker on a later period, register all."
