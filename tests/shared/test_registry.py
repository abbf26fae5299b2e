from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from shared.errors import RegistryError
from shared.registry import Registry


def _write(text: str):
    def write(directory):
        (directory / "weights.txt").write_text(text)

    return write


def test_versions_promote_and_rollback(tmp_path):
    registry = Registry(tmp_path)
    assert registry.save("m", _write("one"), {"kind": "test"}) == "v1"
    assert registry.save("m", _write("two"), {"kind": "test"}) == "v2"
    assert registry.current("m") == "v2"
    assert registry.save("m", _write("three"), {"kind": "test"}, promote=False) == "v3"
    assert registry.current("m") == "v2"  # an unpromoted candidate does not serve
    assert registry.path("m", "latest").name == "v3" and registry.resolve("m@latest").name == "v3"
    registry.promote("m", "latest")
    assert registry.current("m") == "v3"
    assert registry.rollback("m") == "v2"
    assert (registry.path("m") / "weights.txt").read_text() == "two"
    card = registry.card("m", "v1")
    assert card["name"] == "m" and card["version"] == "v1" and card["created"]
    with pytest.raises(RegistryError, match="no version 'v9'"):
        registry.promote("m", "v9")
    with pytest.raises(RegistryError, match="name the version of 'm' to promote: one of v1, v2, v3"):
        registry.promote("m", " ")  # not "the version serving now"
    with pytest.raises(RegistryError, match=r"no model 'n' in the registry .*models: m\)"):
        registry.path("n")


def test_rollback_without_history_is_a_clear_error(tmp_path):
    registry = Registry(tmp_path)
    registry.save("m", _write("one"), {})
    with pytest.raises(RegistryError, match="no earlier promoted version"):
        registry.rollback("m")


def test_killed_save_leaves_previous_version_and_no_half_version(tmp_path):
    registry = Registry(tmp_path)
    registry.save("m", _write("good"), {"kind": "test"})
    script = textwrap.dedent(f"""
        import time
        from shared.registry import Registry
        def write(d):
            (d / "weights.txt").write_text("partial")
            print("writing", flush=True)
            time.sleep(60)
        Registry({str(tmp_path)!r}).save("m", write, {{}})
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.1)
    assert registry.versions("m") == ["v1"]
    assert registry.current("m") == "v1"
    assert (registry.path("m") / "weights.txt").read_text() == "good"
    assert json.loads((registry.path("m") / "card.json").read_text())["version"] == "v1"
    assert registry.save("m", _write("next"), {}) == "v2"  # the debris does not block the next save


def test_a_first_version_saved_unpromoted_does_not_serve(tmp_path):
    registry = Registry(tmp_path)
    assert registry.save("m", _write("one"), {"kind": "test"}, promote=False) == "v1"
    assert registry.current("m") is None and registry.versions("m") == ["v1"]
    with pytest.raises(RegistryError, match="no promoted version yet .* models promote m VERSION"):
        registry.path("m")
    assert registry.path("m", "v1").is_dir()
    registry.promote("m", "v1")
    assert registry.current("m") == "v1"


def test_a_rejected_retrain_of_a_hand_laid_model_leaves_it_serving(tmp_path):
    registry = Registry(tmp_path)
    (tmp_path / "m" / "v1").mkdir(parents=True)  # no CURRENT, no HISTORY: its newest serves
    (tmp_path / "m" / "v1" / "card.json").write_text(json.dumps({"kind": "classifier"}))
    assert registry.current("m") == "v1"
    assert registry.save("m", _write("candidate"), {"kind": "classifier"}, promote=False) == "v2"
    assert registry.current("m") == "v1"
    registry.discard("m", "v2")  # not better: thrown away
    assert registry.current("m") == "v1" and registry.path("m").name == "v1"


def test_a_name_keeps_its_kind_before_any_version_is_promoted(tmp_path):
    registry = Registry(tmp_path)
    registry.save("enc", _write("one"), {"kind": "encoder"}, promote=False)
    with pytest.raises(RegistryError, match="already holds an encoder model"):
        registry.save("enc", _write("two"), {"kind": "classifier"})


def test_two_saves_finishing_together_both_keep_their_version(tmp_path):
    registry = Registry(tmp_path)
    registry.save("m", _write("one"), {})

    def racing(directory):  # another process lands v2 while this save is still writing
        (directory / "weights.txt").write_text("mine")
        registry.save("m", _write("theirs"), {}, promote=False)

    assert registry.save("m", racing, {}) == "v3"
    assert (registry.path("m", "v2") / "weights.txt").read_text() == "theirs"
    assert (registry.path("m", "v3") / "weights.txt").read_text() == "mine"
    assert registry.card("m", "v3")["version"] == "v3" and registry.current("m") == "v3"


def test_a_bad_name_is_refused_before_any_training(tmp_path):
    from shared import TrainConfig, finetune_classifier
    from shared.data import LabelledText

    rows = [LabelledText("good", "pos"), LabelledText("bad", "neg")]
    started = time.perf_counter()
    with pytest.raises(RegistryError, match="model name"):
        finetune_classifier(rows, None, TrainConfig(), "no spaces", registry=Registry(tmp_path))
    # a save's temporary folder adds to the name: 245 characters trained, then failed at the save
    with pytest.raises(RegistryError, match="at most 100 characters, got 245"):
        finetune_classifier(rows, None, TrainConfig(), "z" * 245, registry=Registry(tmp_path))
    assert time.perf_counter() - started < 5  # nothing was loaded or trained


def test_a_name_keeps_its_kind_and_stays_inside_the_registry(tmp_path):
    registry = Registry(tmp_path)
    registry.save("enc", _write("one"), {"kind": "encoder"})
    with pytest.raises(RegistryError, match="'enc' already holds an encoder model; a classifier needs another name"):
        registry.save("enc", _write("two"), {"kind": "classifier"})
    assert registry.versions("enc") == ["v1"]
    assert registry.save("enc", _write("three"), {"kind": "encoder"}) == "v2"
    for base in ("minilm", "MiniLM"):  # "MiniLM" was registered, and `--base Minilm` loaded it
        with pytest.raises(RegistryError, match="names a base model"):
            registry.save(base, _write("x"), {"kind": "classifier"})
    with pytest.raises(RegistryError, match="a model name starts with a letter or digit"):
        registry.path("../enc")
    with pytest.raises(RegistryError, match="no model 'nope' in the registry"):
        registry.rollback("nope")


def test_discarding_the_last_version_removes_the_name(tmp_path):
    registry = Registry(tmp_path)
    registry.save("fold", _write("one"), {"kind": "classifier"})
    registry.save("fold", _write("two"), {"kind": "classifier"})
    registry.discard("fold", "v2")
    assert registry.versions("fold") == ["v1"] and registry.current("fold") == "v1"
    assert registry.save("fold", _write("three"), {"kind": "classifier"}) == "v3", "v2 is not given twice"
    registry.discard("fold", "v3")
    registry.discard("fold", "v1")
    assert "fold" not in registry.names() and not (tmp_path / "fold").exists()


def test_an_interrupted_discard_leaves_no_half_version_listed(tmp_path, monkeypatch):
    import shared.registry as registry_module

    registry = Registry(tmp_path)
    for text in ("one", "two"):
        registry.save("fold", _write(text), {"kind": "classifier"})
    real_rmtree = registry_module.shutil.rmtree

    def killed(path, ignore_errors=False):  # Ctrl-C once the removal has begun
        if Path(path).exists():
            raise KeyboardInterrupt
        return real_rmtree(path, ignore_errors=ignore_errors)

    monkeypatch.setattr(registry_module.shutil, "rmtree", killed)
    with pytest.raises(KeyboardInterrupt):
        registry.discard("fold", "v2")
    monkeypatch.setattr(registry_module.shutil, "rmtree", real_rmtree)
    assert registry.versions("fold") == ["v1"] and registry.card("fold")["version"] == "v1"
    assert registry.save("fold", _write("three"), {"kind": "classifier"}) == "v3"  # v2 was discarded


def test_resolve_model_takes_a_pinned_version(home):
    from shared import resolve_model
    from shared.errors import ModelNotFoundError

    registry = Registry()
    for _ in range(2):  # a folder path must hold a model: a config.json naming its type
        registry.save("intents", lambda d: (d / "config.json").write_text('{"model_type": "bert"}'),
                      {"kind": "classifier"})
    registry.rollback("intents")
    assert resolve_model("intents") == registry.root / "intents" / "v1"  # the current one
    assert resolve_model("intents@v2") == registry.root / "intents" / "v2"
    assert resolve_model(registry.root / "intents" / "v2") == (registry.root / "intents" / "v2").resolve()
    with pytest.raises(RegistryError, match=r"model 'intents' has no version 'v9' \(versions: v1, v2, or 'latest'\)"):
        resolve_model("intents@v9")
    with pytest.raises(RegistryError, match=r"no model 'intent' in the registry .*\(models: intents\)"):
        resolve_model("intent@v1")
    with pytest.raises(ModelNotFoundError, match="not found"):
        resolve_model("./nowhere@v1")


def test_a_registry_resolves_name_at_version_under_its_own_root(tmp_path):
    registry = Registry(tmp_path)  # not the settings' home: apps evaluate in scratch registries
    for _ in range(2):
        registry.save("faq", lambda d: None, {"kind": "biencoder"})
    assert registry.resolve("faq@v1") == tmp_path / "faq" / "v1"
    assert registry.resolve("faq") == tmp_path / "faq" / "v2"
    with pytest.raises(RegistryError, match="has no version 'v3'"):
        registry.resolve("faq@v3")
    with pytest.raises(RegistryError, match="a model name starts with a letter or digit"):
        registry.resolve("@v1")


def test_promotions_from_several_processes_all_reach_the_history(tmp_path):
    script = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from shared.registry import Registry
        registry = Registry({str(tmp_path / "models")!r})
        while not Path({str(tmp_path / "go")!r}).exists():
            time.sleep(0.01)
        for _ in range(30):
            registry.save("m", lambda d: (d / "w.txt").write_text("x"), {{"kind": "test"}})
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).parents[2])
             for _ in range(3)]
    time.sleep(2)  # all three started, waiting for the go
    (tmp_path / "go").touch()
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    registry = Registry(tmp_path / "models")
    assert len(registry.versions("m")) == 90
    assert sorted(registry._history("m"), key=lambda v: int(v[1:])) == registry.versions("m")


def test_a_base_model_name_resolves_in_any_case() -> None:
    from shared.models import resolve_model

    assert resolve_model("MiniLM") == resolve_model("minilm")


def test_a_promoted_version_whose_folder_is_gone_is_said_once(tmp_path, caplog):
    """Another version served without a word: the newest, never promoted, in the auditor's run."""
    registry = Registry(tmp_path)
    for text in ("one", "two", "three"):
        registry.save("gone", _write(text), {"kind": "test"})
    registry.save("gone", _write("four"), {"kind": "test"}, promote=False)
    import shutil

    shutil.rmtree(tmp_path / "gone" / "v3")
    assert registry.current("gone") == "v2" and registry.current("gone") == "v2"  # promoted before it, not v4
    said = [r.getMessage() for r in caplog.records if "is gone" in r.getMessage()]
    assert said == ["gone: its promoted version v3 is gone (its folder was removed); serving v2 instead — "
                    "`verticals models promote gone VERSION` chooses"]
    registry.discard("gone", "v2")  # the serving one, discarded on purpose: no alarm
    assert registry.current("gone") == "v1" and not [r for r in caplog.records if "v2 is gone" in r.getMessage()]


def test_a_version_whose_weights_are_gone_is_one_line(full_model, session_registry, tmp_path):
    import shutil

    from shared.backends import load_torch

    copy = tmp_path / "v1"
    shutil.copytree(session_registry.path(full_model.name, full_model.version), copy)
    (copy / "model.safetensors").unlink()
    with pytest.raises(RegistryError, match=r"v1: cannot load the model \(.*\) — its files are incomplete: "
                                            "retrain it, or remove that version's folder$"):
        load_torch(copy, embed=False)
