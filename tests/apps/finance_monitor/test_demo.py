"""The demo's background poller: reused while it serves, replaced when the port changes, and a
poller that cannot start is an error naming its log. A stand-in poller (a few lines of Python
holding the port) keeps these tests fast; the real one is exercised by ``make demo``."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.finance_monitor import demo
from shared import VerticalsError

from ...conftest import free_port

HOLD_PORT = ("import socket, sys, time; s = socket.socket(); "
             "s.bind(('127.0.0.1', int(sys.argv[sys.argv.index('--port') + 1]))); "
             "s.listen(); time.sleep(120)")


@pytest.fixture
def folder(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The demo's config folder, with a stand-in poller; kills what a test left running."""
    monkeypatch.setattr(demo, "POLLER", ["-c", HOLD_PORT, "--demo-feeds"])
    folder = home / "finance"
    folder.mkdir(parents=True)
    started: list[int] = []
    real_start = demo.start_background

    def tracked(*args: object, **kwargs: object) -> tuple[int, bool]:
        pid, fresh = real_start(*args, **kwargs)
        started.append(pid)
        return pid, fresh

    monkeypatch.setattr(demo, "start_background", tracked)
    yield folder
    for pid in started:
        if demo.command_line(pid):
            os.kill(pid, signal.SIGKILL)


def test_a_serving_poller_is_reused_and_another_port_replaces_it(folder: Path) -> None:
    config, port, other = folder / "sources.toml", free_port(), free_port()
    first, started = demo.start_background(config, port, 1.0)
    assert started and demo.port_in_use(port)
    assert demo.start_background(config, port, 1.0) == (first, False)
    second, started = demo.start_background(config, other, 1.0)
    assert started and second != first and demo.command_line(first) == ""
    assert not demo.port_in_use(port) and (folder / "demo.pid").read_text() == str(second)


def test_two_demos_started_at_once_share_one_poller(folder: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    config, port = folder / "sources.toml", free_port()
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: demo.start_background(config, port, 1.0), range(2)))
    assert sorted(started for _, started in results) == [False, True]
    assert results[0][0] == results[1][0] == int((folder / "demo.pid").read_text())


def test_a_port_held_by_a_forgotten_poller_is_an_error_not_started(folder: Path) -> None:
    config, port = folder / "sources.toml", free_port()
    demo.start_background(config, port, 1.0)
    (folder / "demo.pid").unlink()  # its home was deleted under it (`make clean` of old)
    with pytest.raises(VerticalsError, match=f"port {port} is already in use"):
        demo.start_background(config, port, 1.0)


def test_a_poller_that_dies_at_once_is_reported_with_its_log(folder: Path, monkeypatch) -> None:
    monkeypatch.setattr(demo, "POLLER", ["-c", "raise SystemExit(3)", "--demo-feeds"])
    with pytest.raises(VerticalsError, match=r"exited at once \(code 3\); see .*demo\.log"):
        demo.start_background(folder / "sources.toml", free_port(), 1.0)
    assert not (folder / "demo.pid").exists()


def test_demo_stop_stops_this_homes_poller_only(folder: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from apps.finance_monitor.cli import app

    runner = CliRunner()
    home = folder.parent
    nothing = runner.invoke(app, ["demo", "--stop"])
    assert nothing.exit_code == 0 and nothing.stdout == f"poller: none running for {home} (no demo.pid)\n"
    other = tmp_path / "other" / "finance"
    other.mkdir(parents=True)
    theirs, _ = demo.start_background(other / "sources.toml", free_port(), 1.0)
    (folder / "demo.pid").write_text(str(theirs))  # a copied home, or a reused pid
    left = runner.invoke(app, ["demo", "--stop"])
    assert left.stdout == (f"poller: none running for {home}: demo.pid named pid {theirs}, which is "
                           "not this home's demo poller (left alone)\n")
    assert "--demo-feeds" in demo.command_line(theirs)
    ours, _ = demo.start_background(folder / "sources.toml", free_port(), 1.0)
    stopped = runner.invoke(app, ["demo", "--stop", "--json"])
    assert stopped.exit_code == 0 and json.loads(stopped.stdout) == {"poller": f"stopped pid {ours}"}
    assert demo.command_line(ours) == "" and not (folder / "demo.pid").exists()
    assert "--demo-feeds" in demo.command_line(theirs)  # another home's poller still runs
    (folder / "demo.pid").write_text(str(ours))
    stale = runner.invoke(app, ["demo", "--stop"])
    assert stale.stdout == f"poller: none running for {home}: demo.pid named pid {ours}, which no longer runs\n"


def test_a_busy_home_points_to_demo_stop(home: Path) -> None:
    from apps.finance_monitor.scheduler import poller_lock

    with poller_lock(home), pytest.raises(VerticalsError) as raised, poller_lock(home):
        pass
    assert "(the demo's: `verticals finance demo --stop`)" in str(raised.value)


def test_the_demo_config_follows_the_port_and_keeps_edits(home: Path) -> None:
    path = demo.write_demo_config(8765)
    path.write_text(path.read_text() + "# my note\n")
    demo.write_demo_config(9123)
    text = path.read_text()
    assert "127.0.0.1:9123/feeds/wire.xml" in text and ":8765" not in text
    assert text.endswith("# my note\n")



def test_a_home_polled_by_another_run_is_an_error_naming_its_pid(folder: Path, home: Path) -> None:
    from apps.finance_monitor.scheduler import poller_lock

    with poller_lock(home), pytest.raises(VerticalsError, match=f"pid {os.getpid()}"):
        demo.start_background(folder / "sources.toml", free_port(), 1.0)
    assert not (folder / "demo.pid").exists()


def test_a_pid_file_naming_another_homes_poller_never_stops_it(folder: Path, tmp_path: Path) -> None:
    other = tmp_path / "other" / "finance"
    other.mkdir(parents=True)
    port = free_port()
    theirs, _ = demo.start_background(other / "sources.toml", port, 1.0)
    (folder / "demo.pid").write_text(str(theirs))  # a copied home, or a reused pid
    with pytest.raises(VerticalsError, match=f"port {port} is already in use"):
        demo.start_background(folder / "sources.toml", port, 1.0)
    assert "--demo-feeds" in demo.command_line(theirs)  # still running
