import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from copilot.cli.main import main


def test_help_is_instant_and_imports_nothing_heavy() -> None:
    code = (
        "import sys; from copilot.cli.main import main\n"
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


def test_index_needs_paths_and_status_needs_none(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "index"])
    assert result.exit_code == 2 and "give one or more files or folders" in result.output
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "index", "--status"])
    assert result.exit_code == 0 and "nothing indexed yet" in result.output


def test_a_missing_password_file_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["--home", str(tmp_path), "index", "--password-file", str(tmp_path / "nope"), str(tmp_path)]
    )
    assert result.exit_code == 2 and result.output.startswith("error: cannot read the password file")


def test_status_table_lists_files_with_reasons(tmp_path: Path) -> None:
    from copilot.core.records import Entry
    from copilot.engine.access import first_policy
    from index.manifest import Manifest

    manifest = Manifest(tmp_path / "index" / "manifest.sqlite")
    doc = tmp_path / "a.pdf"
    doc.write_bytes(b"x")
    st = doc.stat()
    manifest.put(Entry(str(doc), "a.pdf", st.st_size, st.st_mtime_ns, "s", "indexed", pages=3, chunks=9))
    manifest.put(Entry(str(tmp_path / "b.pdf"), "b.pdf", 1, 1, "t", "skipped", "encrypted: needs a password"))
    manifest.close()
    first_policy(tmp_path / "policy.toml")  # this user may read every collection
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "index", "--status"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any("indexed" in line and "a.pdf" in line and "9" in line for line in lines)
    assert any("stale" in line and "b.pdf" in line and "needs a password" in line for line in lines)
    assert "1 indexed, 1 stale" in result.output
