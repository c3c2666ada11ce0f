import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from copilot.cli import main


def test_help_is_instant_and_imports_nothing_heavy() -> None:
    code = (
        "import sys; from copilot.cli import main\n"
        "heavy = {'torch', 'llama_cpp', 'chromadb', 'sentence_transformers', 'textual'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    runner = CliRunner()
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("index", "ask", "doctor", "config"):
        assert command in result.output


def test_empty_index_is_one_clear_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "ask", "q"])
    assert result.exit_code == 4
    assert result.output.count("\n") == 1 and "run: copilot index" in result.output


def test_unknown_model_name(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "--model", "gpt-5", "doctor"])
    assert "unknown model 'gpt-5'" in result.output and result.exit_code == 1


def test_config_shows_precedence(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("top_k = 8\n")
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "config"], env={"COPILOT_MIN_SCORE": "0.5"})
    assert "top_k = 8" in result.output and "min_score = 0.5" in result.output


def test_bad_config_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("top_k = 'x'\n")
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "config"])
    assert result.exit_code == 2 and result.output.startswith("error: setting 'top_k'")
