"""Proof of no network: every user path under the guard's fail-on-attempt mode, inside `unshare -n`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COPILOT = str(Path(sys.executable).with_name("copilot"))


def test_fail_mode_stops_a_process_that_swallows_the_refusal() -> None:
    code = ("from copilot import offline; offline.install(fail=True)\n"
            "import socket\n"
            "try:\n    socket.create_connection(('192.0.2.1', 9), timeout=0.5)\n"
            "except Exception:\n    pass\n"
            "print('carried on')\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 70 and "carried on" not in run.stdout
    assert "offline guard refused a network connection to 192.0.2.1:9" in run.stderr


def _unshare_works() -> bool:
    return bool(shutil.which("unshare")) and subprocess.run(
        ["unshare", "-n", "true"], capture_output=True).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _unshare_works(), reason="unshare -n is not permitted here")
def test_index_ask_quantize_and_judge_with_no_network_and_the_guard_set_to_fail(tmp_path: Path, tiny_model: Path,
                                                                              models_home: Path) -> None:
    env = {"COPILOT_HOME": str(tmp_path / "home"), "COPILOT_MODEL": "smollm2-135m",
           "COPILOT_MODELS_HOME": str(tmp_path / "models"), "COPILOT_GUARD": "fail",
           "COPILOT_MAX_TOKENS": "32", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    shutil.copytree(models_home / "embedders", tmp_path / "models" / "embedders") if (
        models_home / "embedders").is_dir() else None

    def run(*args: str) -> subprocess.CompletedProcess:
        out = subprocess.run(["unshare", "-n", COPILOT, *args], env=env, capture_output=True, text=True,
                             timeout=600)
        assert out.returncode in (0, 1), f"{args}: {out.returncode}\n{out.stderr[-2000:]}"
        return out

    run("index", str(ROOT / "examples"))
    assert "Sources" in run("ask", "How long does the firm keep client matter files?").stdout
    run("quantize", "make", "smollm2-135m", "--type", "Q4_0", "--allow-requantize")
    judged = run("quantize", "eval", "smollm2-135m", "smollm2-135m.Q4_0", "--tokens", "256", "--window", "128")
    assert "KLD mean" in judged.stdout
    doctor = subprocess.run(["unshare", "-n", COPILOT, "doctor", "--strict"], env=env, capture_output=True,
                            text=True, timeout=600)
    assert doctor.returncode == 0, doctor.stdout[-3000:]
    assert "0 attempts recorded" in doctor.stdout and "index integrity" in doctor.stdout
