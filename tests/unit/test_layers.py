"""The layers, read from the imports: a subpackage imports only those listed below it.

    copilot.cli            the command line       → core, the app, the server's start, the tools,
                                                    quantize, review, the engine's factory
    copilot.server         `copilot serve`        → core, the engine's factory and walls' policy,
                                                    llama's CPU kernels (its model host), review
                                                    (the reviews it keeps for each reader)
    tui                    the app                → core (the contract and its records), review
    copilot.review         a grid of many answers → core only (it asks through the contract)
    copilot.tools          doctor, bundle, eval   → core, index, answer, llama, engine
    quantize               `copilot quantize`     → core, index, llama
    copilot.engine         the composition root   → core, index, answer, llama, engine.remote
    copilot.engine.remote  a server's client      → core only
    copilot.llama          the model runtime      → core
    copilot.answer         the answer stages      → core
    index                  reading … storing      → core
    copilot.core           the foundation         → nothing of ours

Every import counts, the ones inside functions too (they are how heavy modules
load late, and a late upward import is still upward).
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from copilot.core.contract import AuditTrail, Engine
from copilot.core.protocols import Generator
from copilot.engine.audit import AuditLog
from copilot.engine.local import Copilot
from copilot.engine.remote import RemoteAudit, RemoteEngine
from copilot.llama.endpoint import EndpointGenerator
from copilot.llama.generator import LlamaGenerator

from fakes import ScriptedGenerator
from tui_fakes import FakeEngine

ROOT = Path(__file__).resolve().parents[2]
OURS = ("copilot", "index", "tui", "quantize")
# Top first: each layer → the layers below it that it may import.  The order is the rule.
LAYERS = {
    "copilot.cli": ("copilot.core", "tui", "copilot.server.run", "copilot.tools", "quantize", "copilot.review",
                    "copilot.engine"),
    "copilot.server": ("copilot.core", "copilot.engine", "copilot.engine.access", "copilot.llama.runtime",
                       "copilot.review"),
    "tui": ("copilot.core", "copilot.review"),
    "copilot.review": ("copilot.core",),
    "copilot.tools": ("copilot.core", "index", "copilot.answer", "copilot.llama", "copilot.engine"),
    "quantize": ("copilot.core", "index", "copilot.llama"),
    "copilot.engine": ("copilot.core", "index", "copilot.answer", "copilot.llama", "copilot.engine.remote"),
    "copilot.engine.remote": ("copilot.core",),
    "copilot.llama": ("copilot.core",),
    "copilot.answer": ("copilot.core",),
    "index": ("copilot.core",),
    "copilot.core": (),
}
# Where only a module of a layer is allowed, not the whole layer: "copilot.engine" alone is the
# factory (copilot/engine/__init__.py); the edges never name the local engine or the stages.
EXACT = {("copilot.cli", "copilot.engine"), ("copilot.server", "copilot.engine")}


def imports(source: str, module: str, known: set[str]) -> set[str]:
    """Every module of ours that `source` (the text of `module`) imports, anywhere in it
    (`known`: our modules, to tell `from package import module` from importing a name)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the importing module's package
                base = ".".join(module.split(".")[: -node.level] + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {name for name in found if name.split(".")[0] in OURS}


def modules() -> dict[str, set[str]]:
    """Each module of ours → what it imports of ours."""
    files = {}
    for package in OURS:
        for file in (ROOT / package).rglob("*.py"):
            parts = file.relative_to(ROOT).with_suffix("").parts
            files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = file
    return {name: imports(file.read_text(encoding="utf-8"), name, set(files)) for name, file in files.items()}


def within(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def layer_of(name: str) -> str | None:
    """The layer a module belongs to: the longest name in LAYERS it falls within."""
    return max((layer for layer in LAYERS if within(name, layer)), key=len, default=None)


def allowed(layer: str, name: str) -> bool:
    """Whether a module of `layer` may import `name`."""
    if layer_of(name) == layer or name == "copilot":
        return True
    return any(name == below if (layer, below) in EXACT else within(name, below) for below in LAYERS[layer])


def upward(table: dict[str, set[str]]) -> list[str]:
    """Every import that breaks the layers, as "importer → imported (its layer's rule)"."""
    broken = []
    for module, imported in sorted(table.items()):
        layer = layer_of(module)
        if layer is None:  # copilot/__init__.py: the version, nothing more
            assert not imported, module
            continue
        for name in sorted(imported):
            if not allowed(layer, name):
                rule = f"only {', '.join(LAYERS[layer])}" if LAYERS[layer] else "nothing of ours"
                broken.append(f"{module} → {name} ({layer} imports {rule})")
    return broken


def test_each_layer_may_import_only_layers_below_it() -> None:
    """The table itself: no layer lists one above it or itself, so no import circle can pass."""
    order = list(LAYERS)
    for layer, below in LAYERS.items():
        for name in below:
            assert order.index(layer_of(name)) > order.index(layer), f"{layer} lists {name}, not below it"


def test_every_module_of_ours_is_in_a_layer() -> None:
    assert [m for m in modules() if layer_of(m) is None] == ["copilot"]


def test_no_layer_imports_upward() -> None:
    table = modules()
    assert {"copilot.core.records", "copilot.engine.local", "copilot.cli.main", "tui.app", "index.indexer"} <= set(table)
    assert upward(table) == []


def test_the_check_sees_an_upward_import_even_inside_a_function() -> None:
    known = set(modules())
    late = "def f():\n    from copilot.answer.retrieval import Retriever\n"
    table = {"tui.chat": imports(late, "tui.chat", known),
             "index.store": imports("from copilot import engine\n", "index.store", known),
             "copilot.core.records": imports("from ..engine.access import load\n", "copilot.core.records", known),
             "copilot.answer.prompt": imports("from copilot.llama import generator\n", "copilot.answer.prompt", known),
             "copilot.cli.main": imports("import index.loaders\nfrom copilot.engine.local import Copilot\n"
                                         "from copilot.engine import open_engine\n", "copilot.cli.main", known)}
    cli = ("copilot.cli imports only copilot.core, tui, copilot.server.run, copilot.tools, quantize, "
           "copilot.review, copilot.engine")
    assert upward(table) == [
        "copilot.answer.prompt → copilot.llama.generator (copilot.answer imports only copilot.core)",
        f"copilot.cli.main → copilot.engine.local ({cli})",
        f"copilot.cli.main → index.loaders ({cli})",
        "copilot.core.records → copilot.engine.access (copilot.core imports nothing of ours)",
        "index.store → copilot.engine (index imports only copilot.core)",
        "tui.chat → copilot.answer.retrieval (tui imports only copilot.core, copilot.review)",
    ]


def _members(protocol: type) -> dict[str, inspect.Signature | None]:
    names = [n for n in vars(protocol) if not n.startswith("_")]
    return {n: None if isinstance(vars(protocol)[n], property) or n in protocol.__annotations__
            else inspect.signature(vars(protocol)[n]) for n in names}


def _params(sig: inspect.Signature) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


@pytest.mark.parametrize("engine", [Copilot, RemoteEngine, FakeEngine],
                         ids=["local engine", "a server's engine", "the app tests' fake"])
def test_engines_keep_to_the_contract(engine: type) -> None:
    """Every member of `Engine`, with the same parameters (names, order, defaults)."""
    for name, sig in _members(Engine).items():
        assert hasattr(engine, name), f"{engine.__name__} lacks {name}"
        if sig is None:
            assert isinstance(inspect.getattr_static(engine, name), property), f"{engine.__name__}.{name}"
            continue
        assert _params(inspect.signature(getattr(engine, name))) == _params(sig), f"{engine.__name__}.{name}"


@pytest.mark.parametrize("generator", [LlamaGenerator, EndpointGenerator, ScriptedGenerator],
                         ids=["llama.cpp", "a model server", "the tests' fake"])
def test_generators_keep_to_the_protocol_the_stages_use(generator: type) -> None:
    """Every member of `Generator` (the answer stages use nothing else of a generator)."""
    for name, sig in _members(Generator).items():
        assert hasattr(generator, name) or name in ("context_window",), f"{generator.__name__} lacks {name}"
        if sig is not None:
            assert _params(inspect.signature(getattr(generator, name))) == _params(sig), f"{generator.__name__}.{name}"


@pytest.mark.parametrize("trail", [AuditLog, RemoteAudit])
def test_audit_trails_keep_to_the_contract(trail: type) -> None:
    for name, sig in _members(AuditTrail).items():
        if sig is not None:
            assert _params(inspect.signature(getattr(trail, name))) == _params(sig), name
    assert isinstance(AuditLog(ROOT / "nonexistent" / "audit.jsonl"), AuditTrail)
