"""Switching models by name on the real engine (the tiny model), keeping its own on a bad name."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from copilot.core.errors import ModelMissing
from copilot.engine.local import Copilot


COPILOT = str(Path(sys.executable).with_name("copilot"))


@pytest.mark.slow
def test_the_engine_switches_to_a_model_by_name_and_keeps_its_own_on_a_bad_one(config, tiny_model, corpus) -> None:
    (config.models_dir).mkdir(parents=True, exist_ok=True)
    link = config.models_dir / "tiny-copy.gguf"
    link.unlink(missing_ok=True)
    link.symlink_to(tiny_model)
    engine = Copilot(config)
    engine.index([corpus])
    first = engine.generator
    engine.use_model("tiny-copy")
    assert engine.config.model == "tiny-copy" and engine.generator is not first
    assert engine.generator.path == link
    with pytest.raises(ModelMissing):
        list(first.stream([{"role": "user", "content": "hi"}], 4))  # the old one is freed
    answer = engine.ask("How long are client matter files kept?", engine.local_reader())
    assert answer.sources
    with pytest.raises(ModelMissing, match="unknown model 'nope'"):
        engine.use_model("nope")
    assert engine.config.model == "tiny-copy" and engine.generator.path == link
    link.unlink()
