"""The warm engine's rules, without a model: whose it is, where it lives, when it leaves,
and that a long-lived engine reads the index as it is now."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from copilot.core import resident as resident_mod
from copilot.core.config import Config, from_settings, settings_of
from copilot.core.errors import AccessDenied, ConfigError
from copilot.core.resident import Resident
from copilot.server import identity
from copilot.server.gateway import Gateway


def test_settings_travel_whole_and_name_the_engine(tmp_path: Path) -> None:
    config = Config(home=tmp_path, model="x.gguf", top_k=7, keep_alive=9)
    assert from_settings(settings_of(config)) == config
    assert Resident.of(config) == Resident.of(from_settings(settings_of(config)))
    assert Resident.of(config).key != Resident.of(config.replace(top_k=8)).key  # other settings, other engine
    assert Resident.of(config).key != Resident.of(config.replace(home=tmp_path / "other")).key
    with pytest.raises(ConfigError, match="unknown setting"):
        from_settings('{"no_such": 1}')
    with pytest.raises(ConfigError, match="not JSON"):
        from_settings("{")


def test_the_engine_folder_must_be_private(tmp_path: Path, monkeypatch) -> None:
    resident = Resident.of(Config(home=tmp_path / "home", runtime_dir=str(tmp_path)))
    assert resident.folder == tmp_path / f"copilot-{os.getuid()}"
    assert resident.private_folder().stat().st_mode & 0o777 == 0o700
    os.chmod(resident.folder, 0o755)  # others may enter: they could plant a socket of theirs
    with pytest.raises(ConfigError, match="not a folder private to you"):
        resident.private_folder()


def test_a_private_socket_serves_its_own_user_only(monkeypatch) -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX)
    try:
        assert identity.own_peer(ours).user == identity.unix_peer(ours).user
        other = os.getuid() + 1
        monkeypatch.setattr(identity.os, "getuid", lambda: other)  # as if another user had connected
        with pytest.raises(AccessDenied, match="private to uid"):
            identity.own_peer(ours)
    finally:
        ours.close()
        theirs.close()


def test_idle_time_counts_from_the_last_request_and_not_during_one(tmp_path: Path) -> None:
    gateway = Gateway(engine=None, config=Config(home=tmp_path))
    with gateway.call():
        time.sleep(0.05)
        assert gateway.idle_for() == 0.0
    time.sleep(0.05)
    assert 0.04 < gateway.idle_for() < 5


def test_the_index_generation_moves_when_another_process_writes(tmp_path: Path) -> None:
    from copilot.core.records import Entry
    from index.manifest import Manifest

    reader, writer = Manifest(tmp_path / "manifest.sqlite"), Manifest(tmp_path / "manifest.sqlite")
    for write in (lambda: writer.begin("/a.txt"),
                  lambda: writer.put(Entry("/a.txt", "a.txt", 1, 1, "s1", "indexed")),
                  lambda: writer.remove("/a.txt"),
                  lambda: writer.set_setting("last_run", '{"time": 3}')):
        before = reader.generation()
        write()
        assert reader.generation() != before
    assert reader.generation() == reader.generation()  # reading it changes nothing
    reader.close()
    writer.close()


def test_keep_alive_is_a_duration_as_ollama_takes_it(tmp_path: Path) -> None:
    from copilot.core.config import load

    assert [load(env={"COPILOT_HOME": str(tmp_path), "COPILOT_KEEP_ALIVE": v}).keep_alive
            for v in ("300", "90s", "5m", "1h", "0", "1.5m")] == [300, 90, 300, 3600, 0, 90]
    assert Config(home=tmp_path).keep_alive == 300  # five minutes unless told
    assert load(env={"COPILOT_HOME": str(tmp_path)}, keep_alive="2m").keep_alive == 120  # the flag wins
    for bad in ("soon", "-5m", "5d", ""):
        with pytest.raises(ConfigError, match="keep_alive.*duration like 90s, 5m, 1h"):
            load(env={"COPILOT_HOME": str(tmp_path), "COPILOT_KEEP_ALIVE": bad})


def test_the_runtime_dir_is_the_users_own_else_tmp(tmp_path: Path) -> None:
    from copilot.core.config import load

    run = tmp_path / "run"
    assert Resident.of(load(env={"COPILOT_HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(run)})).folder \
        == run / f"copilot-{os.getuid()}"
    assert Resident.of(load(env={"COPILOT_HOME": str(tmp_path)})).folder == Path(f"/tmp/copilot-{os.getuid()}")


def test_engine_parts_load_once_each_and_different_parts_at_the_same_time(tmp_path: Path) -> None:
    import threading

    from copilot.engine.local import Copilot

    engine = Copilot(Config(home=tmp_path))
    made: list[str] = []

    def slow(name: str):
        def make() -> str:
            made.append(name)
            time.sleep(0.3)
            return name
        return make

    started = time.monotonic()
    threads = [threading.Thread(target=engine._part, args=(n, slow(n))) for n in ("model", "index", "model")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(made) == ["index", "model"]  # the model asked for twice, loaded once
    assert time.monotonic() - started < 0.55  # the two parts loaded side by side, not one after another
    assert engine._part("model", slow("again")) == "model"


def test_a_killed_engines_files_are_cleared_and_it_is_not_counted_as_running(tmp_path: Path) -> None:
    import json
    import subprocess

    from copilot.engine.warm import running, stop

    config = Config(home=tmp_path / "home", runtime_dir=str(tmp_path))
    resident = Resident.of(config)
    resident.private_folder()
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid nobody holds now
    resident.pid_file.write_text(json.dumps({"pid": gone.pid, "home": str(config.home)}))
    resident.socket.write_text("")
    assert running(config) == [] and not resident.pid_file.exists() and not resident.socket.exists()
    resident.pid_file.write_text(json.dumps({"pid": os.getpid()}))  # a live pid, but no warm engine's
    assert stop(resident) is None and running(config) == []


def test_a_socket_bound_but_not_yet_listening_is_kept_while_its_engine_lives(tmp_path: Path, monkeypatch) -> None:
    """An engine binds its socket a moment before it listens: a probe then is refused, and must
    not take the socket from it (the engine would be unreachable for its whole life)."""
    import json

    from copilot.engine import warm

    resident = Resident.of(Config(home=tmp_path / "home", runtime_dir=str(tmp_path)))
    resident.private_folder()
    bound = socket.socket(socket.AF_UNIX)
    bound.bind(str(resident.socket))  # bound, not listening: connect() is refused
    try:
        resident.pid_file.write_text(json.dumps({"pid": 4242}))
        monkeypatch.setattr(warm, "_ours", lambda pid: pid == 4242)  # as if 4242 were that engine
        assert warm.health(resident) is None and resident.socket.exists()
        monkeypatch.setattr(warm, "_ours", lambda pid: False)  # no pid file written yet, or a dead one's
        assert warm.health(resident, tidy=False) is None and resident.socket.exists()  # outside the lock: kept
        assert warm.health(resident) is None and not resident.socket.exists()  # under it: stale, removed
    finally:
        bound.close()
