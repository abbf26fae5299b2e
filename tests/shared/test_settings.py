from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(home: Path, device: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "VERTICALS_HOME": str(home), "VERTICALS_DEVICE": device}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("device", ["", "cpu"])
def test_reading_settings_and_listing_models_do_not_import_torch(tmp_path, device):
    listed = _run(tmp_path, device, "-c", "import runpy, sys; sys.argv = ['verticals', 'models', 'list']\n"
                  "try:\n    runpy.run_module('shared', run_name='__main__')\nexcept SystemExit:\n    pass\n"
                  "print('torch imported:', 'torch' in sys.modules)")
    assert "no models yet" in listed.stdout and "torch imported: False" in listed.stdout, listed.stderr
    done = _run(tmp_path, device, "-c", "import sys; from shared import get_settings; s = get_settings(); "
                "print('torch' in sys.modules, s.home.name)")
    assert done.stdout.split() == ["False", tmp_path.name], done.stderr


def test_device_resolves_on_first_use(tmp_path):
    show = "from shared import get_settings; print(get_settings().device)"
    done = _run(tmp_path, "", "-c", show)
    assert done.stdout.strip() in ("cpu", "cuda"), done.stderr
    assert _run(tmp_path, "cpu", "-c", show).stdout == "cpu\n"


def test_a_bad_device_is_one_line(tmp_path):
    done = _run(tmp_path, "gpu", "-m", "shared", "models", "list")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == "error: VERTICALS_DEVICE must be 'cpu' or 'cuda', got 'gpu'"


def test_cuda_without_a_gpu_is_one_line(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("revenue rose on loan growth\nshares fell after the report\n" * 10)
    done = _run(tmp_path, "cuda", "-m", "shared", "finetune", "mlm", "--corpus", str(corpus), "--name", "enc")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip() == "error: VERTICALS_DEVICE=cuda but torch sees no CUDA device — unset it or use cpu"


@pytest.mark.parametrize("home, expected", [("a-file", "is a file"), ("a-file/sub", "is not a folder this process")])
def test_a_command_with_a_bad_home_prints_one_line(tmp_path, home, expected):
    (tmp_path / "a-file").write_text("not a folder")
    env = {**os.environ, "VERTICALS_HOME": str(tmp_path / home)}
    done = subprocess.run([sys.executable, "-m", "shared", "models", "list"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: VERTICALS_HOME {tmp_path / home} {expected}"), lines
    assert "set VERTICALS_HOME to a writable folder" in done.stderr
