"""Proof of no network: every user path under the guard's fail-on-attempt mode, inside `unshare -n`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SHARED, no_network_prefix

ROOT = Path(__file__).resolve().parents[2]
COPILOT = str(Path(sys.executable).with_name("copilot"))


def test_fail_mode_stops_a_process_that_swallows_the_refusal() -> None:
    code = ("from copilot.core import offline; offline.install(fail=True)\n"
            "print('children told to fail:', offline.settings()[1])\n"
            "import socket\n"
            "try:\n    socket.create_connection(('192.0.2.1', 9), timeout=0.5)\n"
            "except Exception:\n    pass\n"
            "print('carried on')\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 70 and "carried on" not in run.stdout
    assert "children told to fail: True" in run.stdout  # what quantize eval's measuring processes get
    assert "offline guard refused a network connection to 192.0.2.1:9" in run.stderr


@pytest.mark.slow
@pytest.mark.skipif(not no_network_prefix(), reason="unshare -n is not permitted here")
def test_index_ask_quantize_and_eval_with_no_network_and_the_guard_set_to_fail(
        tmp_path: Path, tiny_model: Path, models_home: Path) -> None:
    env = {"COPILOT_HOME": str(tmp_path / "home"), "COPILOT_MODEL": "smollm2-135m",
           "COPILOT_MODELS_HOME": str(tmp_path / "models"), "COPILOT_GUARD": "fail",
           "COPILOT_MAX_TOKENS": "32", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    shutil.copytree(models_home / "embedders", tmp_path / "models" / "embedders") if (
        models_home / "embedders").is_dir() else None

    def run(*args: str) -> subprocess.CompletedProcess:
        out = subprocess.run([*no_network_prefix(), COPILOT, *args], env=env, capture_output=True, text=True,
                             timeout=600)
        assert out.returncode in (0, 1), f"{args}: {out.returncode}\n{out.stderr[-2000:]}"
        return out

    run("index", str(ROOT / "examples"))
    scanned = tmp_path / "scanned"  # a scan: read by OCR, its models from the environment, nothing fetched
    scanned.mkdir()
    shutil.copy(SHARED / "corpus" / "hostile" / "docling--ocr_test.pdf", scanned)
    assert "1 read by OCR" in run("index", str(scanned)).stdout
    asked = run("ask", "How long does the firm keep client matter files?").stdout
    assert "data-retention-policy.md" in asked  # retrieved and listed (the tiny model's answer itself may not hold)
    run("quantize", "make", "smollm2-135m", "--type", "Q4_0", "--allow-requantize")
    judged = run("quantize", "eval", "smollm2-135m", "smollm2-135m.Q4_0", "--tokens", "256", "--window", "128")
    assert "KLD mean" in judged.stdout

    cuad = tmp_path / "cuad"  # one contract and its questions: `copilot eval` indexes and answers
    rows = [json.loads(line) for line in (SHARED / "eval" / "cuad" / "qa.jsonl").open()]
    doc = rows[0]["doc"]
    (cuad / doc).parent.mkdir(parents=True)
    shutil.copy(SHARED / "eval" / "cuad" / doc, cuad / doc)
    (cuad / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows if r["doc"] == doc))
    assert "| evidence hit@5" in run("eval", "cuad", str(cuad), "--limit", "2").stdout
    doctor = subprocess.run(["unshare", "-n", COPILOT, "doctor", "--strict"], env=env, capture_output=True,
                            text=True, timeout=600)
    assert doctor.returncode == 0, doctor.stdout[-3000:]
    assert "0 attempts recorded" in doctor.stdout and "index integrity" in doctor.stdout
