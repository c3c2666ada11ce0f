"""The audit trail as the real engine writes it: every answer, its sources, model and reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from copilot.cli.main import main
from copilot.engine.audit import AuditLog
from copilot.engine.local import Copilot
from copilot.llama.models import PACKAGED


@pytest.mark.slow
def test_every_answer_is_recorded_with_its_sources_model_and_reader(config, corpus) -> None:
    engine = Copilot(config)
    engine.index([corpus])
    first = engine.ask("How long does the firm keep client matter files?", engine.local_reader())
    engine.ask("How long are e-mails kept?", engine.local_reader())
    log = AuditLog(config.audit_file)
    r1, r2 = list(log.records())
    assert (r1["n"], r2["n"], r2["prev"]) == (1, 2, r1["hash"])
    assert r1["question"] == first.question and r1["answer"]["answer"] == first.text
    assert r1["collections"] == ["*"] and r1["user"] == engine.local_reader().user
    assert r1["model"]["sha256"] == PACKAGED["smollm2-135m"].sha256
    assert r1["model"]["settings"]["max_tokens"] == config.max_tokens
    assert {x["chunk"] for x in r1["retrieved"]} == {s.chunk_id for s in first.sources}
    assert all(len(x["sha256"]) == 64 and x["file"].startswith(str(corpus)) for x in r1["retrieved"])

    runner = CliRunner()
    home = ["--home", str(config.home), "--model", config.model]
    out = runner.invoke(main, [*home, "audit", "verify"])
    assert out.exit_code == 0 and out.output.startswith("ok: 2 records, chain intact")
    shown = runner.invoke(main, [*home, "audit", "show", "1"]).output
    assert first.question in shown and first.text.splitlines()[0] in shown and "Sources retrieved:" in shown
    assert len(runner.invoke(main, [*home, "audit", "export", "--since", "2000-01-01"]).output.splitlines()) == 2
    assert runner.invoke(main, [*home, "audit", "export", "--since", "2999-01-01"]).output == ""

    # Change a document every answer drew on: the answers that cited it are stale.
    cited = {c.path for c in first.citations} or {s.path for s in first.sources[:1]}
    target = Path(sorted(cited)[0])
    with AuditLog(config.audit_file).file.open() as fh:
        rec = json.loads(fh.readline())
    if not rec["answer"]["citations"]:  # the tiny model cited nothing: make the check cite, as users see
        pytest.skip("the tiny model's first answer cites nothing here")
    target.write_text(target.read_text() + "\n\nAmended: retention is now ten years.\n")
    engine.index([corpus])
    stale = runner.invoke(main, [*home, "audit", "stale"]).output
    assert "record 1" in stale and f"{target.name}" in stale and "changed since" in stale

    text = config.audit_file.read_text().replace(first.question, "How long are files kept?", 1)
    config.audit_file.write_text(text)
    out = runner.invoke(main, [*home, "audit", "verify"])
    assert out.exit_code == 1 and "BROKEN at record 1: its content was changed" in out.output
