"""``verticals finance demo``: idempotent preparation of a working monitor on local data.

1. train the two small models on ``datasets/finance/train.csv`` unless already registered;
2. write ``<home>/finance/sources.toml`` pointing at the local replay server (kept if present,
   but moved to ``--port``);
3. start ``verticals finance run --demo-feeds`` in the background unless already running
   (``demo.pid`` and ``demo.log`` beside the config; ``demo --stop`` or ``make clean`` stops
   it).
"""

from __future__ import annotations

import csv
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from shared import TrainConfig, VerticalsError, get_registry, get_settings
from shared.storage import file_lock

from .config import (
    AlertConfig,
    FetchConfig,
    ModelConfig,
    MonitorConfig,
    SourceConfig,
    home_config_path,
    render_config,
)
from .training import DEMO_DIR, TrainPlan, train_models

DEMO_TRAIN = TrainConfig(epochs=3, max_length=32, batch_size=16, patience=3)
POLLER = ["-m", "shared", "finance", "run", "--demo-feeds"]  # after sys.executable
DEMO_URL = re.compile(r"http://127\.0\.0\.1:\d+/(?=feeds/|articles/)")  # the replay server


def demo_config(port: int, interval_s: int = 10) -> MonitorConfig:
    """Two replayed feeds and one article page on localhost (private addresses allowed)."""
    base = f"http://127.0.0.1:{port}"
    sources = (SourceConfig("wire", f"{base}/feeds/wire.xml", interval_s=interval_s),
               SourceConfig("daily", f"{base}/feeds/daily.xml", interval_s=interval_s),
               SourceConfig("daily-page", f"{base}/articles/s0001", kind="page",
                            interval_s=600))
    return MonitorConfig(sources=sources,
                         fetch=FetchConfig(timeout_s=5, allow_private=True,
                                           min_host_interval_s=0.1),
                         alerts=AlertConfig(), models=ModelConfig(), tickers=demo_tickers())


def demo_tickers() -> dict[str, tuple[str, ...]]:
    """The demo companies' names as ticker aliases (``datasets/finance/companies.csv``)."""
    with (DEMO_DIR / "companies.csv").open(encoding="utf-8", newline="") as handle:
        return {row["ticker"]: (row["name"],) for row in csv.DictReader(handle)}


# subtle: the demo models score 1.000, which users took at face value: 71 of the 72 test
# headlines fill a template the training ones fill too (datasets/finance/generate.py)
DEMO_CAVEAT = ("demo data: the test headlines fill the same templates as the training ones, so these scores "
               "say little; benchmarks/finance.py measures Financial PhraseBank and the Twitter topics")


def ensure_models(models: ModelConfig, config: TrainConfig = DEMO_TRAIN) -> list[dict]:
    """Train the demo models only when the registry lacks them; returns what was trained."""
    registry = get_registry()
    need_sentiment = registry.current(models.sentiment) is None
    need_topic = registry.current(models.topic) is None
    if not (need_sentiment or need_topic):
        return []
    data = DEMO_DIR / "train.csv"
    plan = TrainPlan(data if need_sentiment else None, data if need_topic else None,
                     DEMO_DIR / "test.csv", caveat=DEMO_CAVEAT)
    return train_models(plan, config, models)


def write_demo_config(port: int) -> Path:
    """The demo config at ``<home>/finance/sources.toml``: written if missing; an existing one
    keeps its edits, only its replay-server URLs move to ``port``."""
    from shared import atomic_write_text

    path = home_config_path()
    if not path.exists():
        atomic_write_text(path, render_config(demo_config(port)))
        return path
    text = path.read_text(encoding="utf-8")
    moved = DEMO_URL.sub(f"http://127.0.0.1:{port}/", text)
    if moved != text:
        atomic_write_text(path, moved)
    return path


def command_line(pid: int) -> str:
    """The command line of a live process, '' when there is none (``/proc``, else ``ps``)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace").strip()
    except OSError:
        pass  # no such process, or no /proc (macOS)
    try:
        found = subprocess.run(["ps", "-p", str(pid), "-o", "args="], capture_output=True,
                               text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return found.stdout.strip()


def demo_poller(pid_file: Path, config_path: Path) -> tuple[int, str] | None:
    """(pid, command line) of the demo poller ``pid_file`` names, if it still runs with
    ``config_path``; a pid reused by an unrelated process does not count.

    subtle: "--demo-feeds" alone is not enough: a pid file copied from another home (or a pid
    reused by another home's poller) would have us SIGTERM a poller that is not ours.
    """
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    found = command_line(pid)
    ours = "--demo-feeds" in found and found.endswith(f"--config {config_path}")
    return (pid, found) if ours else None


def stop_poller(pid: int, wait_s: float = 15.0) -> None:
    """SIGTERM (the poller finishes its current job), then SIGKILL if it is still there."""
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + wait_s
        while command_line(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if command_line(pid):
            os.kill(pid, signal.SIGKILL)  # ingest is crash-safe: one article at most is redone
    except ProcessLookupError:
        pass  # it exited meanwhile


def stop_demo() -> str:
    """``demo --stop``: stop this home's background poller, the one ``demo.pid`` names, only
    if it still runs with this home's config; returns what happened for the CLI
    (``stopped pid 4242``)."""
    home = get_settings().home
    pid_file = home / "finance" / "demo.pid"
    with file_lock(pid_file.with_name("demo.lock")):
        return _stop_demo(home, pid_file)


def _stop_demo(home: Path, pid_file: Path) -> str:
    if not pid_file.exists():
        return f"none running for {home} (no {pid_file.name})"
    running = demo_poller(pid_file, home / "finance" / "sources.toml")
    named = pid_file.read_text().strip()
    pid_file.unlink(missing_ok=True)  # stopped now, or stale: either way it names no poller of ours
    if running is None:
        alive = named.isdigit() and command_line(int(named))
        return (f"none running for {home}: {pid_file.name} named pid {named}, which "
                + ("is not this home's demo poller (left alone)" if alive else "no longer runs"))
    stop_poller(running[0])
    return f"stopped pid {running[0]}"


def port_in_use(port: int) -> bool:
    """Whether something listens on ``127.0.0.1:port`` (the demo feed server binds there)."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def start_background(config_path: Path, port: int, speed: float,
                     wait_s: float = 60.0) -> tuple[int, bool]:
    """Start the poller + feed server detached; (pid, started now?).

    A running demo poller of this home started with the same arguments and serving is reused;
    another one (say with another ``--port``) is stopped first. Returns once the feed server
    listens; a poller that exits instead is a ``VerticalsError`` naming its log. Starting and
    stopping hold ``demo.lock``: two demos started at once left a poller no pid file named.
    """
    folder = config_path.parent
    with file_lock(folder / "demo.lock"):  # two `finance demo` at once: one poller, one pid file
        pid_file, log_path = folder / "demo.pid", folder / "demo.log"
        args = [*POLLER, "--port", str(port), "--speed", str(speed), "--config", str(config_path)]
        running = demo_poller(pid_file, config_path)
        if running is not None:
            pid, found = running
            if found.endswith(" ".join(args)) and port_in_use(port):
                return pid, False
            stop_poller(pid)
        from .scheduler import check_poller_free

        check_poller_free()  # another `finance run` of this home: say so, instead of a dead poller
        if port_in_use(port):
            raise VerticalsError(f"port {port} is already in use (an old demo poller whose home was "
                                 "deleted? find it with `ps aux | grep demo-feeds`); stop it or "
                                 "pass --port")
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, *args], stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                start_new_session=True, env={**os.environ, "VERTICALS_HOME": str(get_settings().home)})
        pid_file.write_text(str(process.pid))
        deadline = time.monotonic() + wait_s
        while process.poll() is None and not port_in_use(port) and time.monotonic() < deadline:
            time.sleep(0.25)
        time.sleep(1.0)  # subtle: a bad config stops the poller just after its feed server binds
        if process.poll() is not None:
            pid_file.unlink(missing_ok=True)
            raise VerticalsError(f"the demo poller exited at once (code {process.returncode}); "
                                 f"see {log_path}")
        return process.pid, True


def prepare_demo(port: int = 8765, speed: float = 1800.0, serve: bool = True) -> dict:
    """Run the three steps; returns a summary for the CLI."""
    models = ModelConfig()
    trained = ensure_models(models)
    path = write_demo_config(port)
    summary = {"trained": [f"{t['name']} {t['version']} acc={t['accuracy']:.3f}"
                           for t in trained] or "models already in the registry",
               "config": str(path)}
    if serve:
        pid, started = start_background(path, port, speed)
        summary["poller"] = f"pid {pid} ({'started' if started else 'already running'}), " \
                            f"log {path.parent / 'demo.log'}"
        summary["feeds"] = f"http://127.0.0.1:{port}/feeds/wire.xml"
    return summary
