"""The layers, read from the imports: each may import only downward.

    copilot/core    the foundation: records, errors, settings, walls, the guard, the engine contract
    index/          reading, chunking, embedding, storing          → core
    copilot/*.py    the engine (answering, models, audit) and the tools (doctor, eval, bundle)
    quantize/       a tool                                          → core, the engine's parts
    copilot/remote  a firm server's engine, seen from a client      → core only
    copilot/server  `copilot serve`: identity, queue, HTTP          → core, the policy, the engine;
                    its model host                                  → the CPU kernels
    copilot/cli     the command line                                → core, the tools, the app, the server;
                                                                      an engine only where it is built
    tui/            the app                                         → core only

Every import counts, the ones inside functions too (they are how heavy modules
load late, and a late upward import is still upward).
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from copilot.audit import AuditLog
from copilot.core.contract import AuditTrail, Engine
from copilot.engine import Copilot
from copilot.remote import RemoteAudit, RemoteEngine

from tui_fakes import FakeEngine

ROOT = Path(__file__).resolve().parent.parent
OURS = ("copilot", "index", "tui", "quantize")
TOOLS = ("copilot.doctor", "copilot.eval", "copilot.bundle", "quantize")  # commands beside the engine


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


def engine_side(name: str) -> bool:
    """A module of the engine's own workings: copilot's, outside the foundation, the edges and the tools."""
    return within(name, "copilot") and not within(name, "copilot.core", "copilot.cli", "copilot.remote",
                                                  "copilot.server", *TOOLS) and name != "copilot"


def upward(table: dict[str, set[str]]) -> list[str]:
    """Every import that breaks the layers, as "importer → imported (rule)"."""
    broken = []
    for module, imported in sorted(table.items()):
        for name in sorted(imported):
            if within(module, "copilot.core"):
                rule = within(name, "copilot.core") or name == "copilot", "core imports nothing of ours"
            elif within(module, "index"):
                rule = within(name, "copilot.core", "index") or name == "copilot", "index imports only core"
            elif within(module, "tui"):
                rule = within(name, "copilot.core", "tui") or name == "copilot", \
                    "the app imports only core (the contract and its records)"
            elif within(module, "copilot.remote"):
                rule = within(name, "copilot.core") or name == "copilot", "a remote engine imports only core"
            elif within(module, "copilot.server"):
                rule = within(name, "copilot.core", "copilot.server", "copilot.access", "copilot.engine", "copilot.compute") \
                    or name == "copilot", "the server imports core, the policy and the engine (its model host, the CPU kernels)"
            elif within(module, "copilot.cli"):
                allowed = within(name, "copilot.core", "copilot.cli", "tui.app", "copilot.server.run", *TOOLS) \
                    or name == "copilot" \
                    or (name in ("copilot.engine", "copilot.remote") and module == "copilot.cli.engine")
                rule = allowed, "the command line imports core, the tools and the app; the engine only to build it"
            else:
                rule = not within(name, "copilot.cli", "copilot.server", "copilot.remote", "tui"), \
                    "nothing below the edges imports them"
            if not rule[0]:
                broken.append(f"{module} → {name} ({rule[1]})")
    return broken


def test_no_layer_imports_upward() -> None:
    table = modules()
    assert {"copilot.core.types", "copilot.engine", "copilot.cli.main", "tui.app", "index.indexer"} <= set(table)
    assert upward(table) == []


def test_the_check_sees_an_upward_import_even_inside_a_function() -> None:
    known = set(modules())
    late = "def f():\n    from copilot.retrieval import Retriever\n"
    table = {"tui.chat": imports(late, "tui.chat", known),
             "index.store": imports("from copilot import engine\n", "index.store", known),
             "copilot.core.types": imports("from ..access import load\n", "copilot.core.types", known),
             "copilot.cli.main": imports("import index.loaders\nfrom copilot.engine import Copilot\n",
                                         "copilot.cli.main", known)}
    edge = "the command line imports core, the tools and the app; the engine only to build it"
    assert upward(table) == [
        f"copilot.cli.main → copilot.engine ({edge})",
        f"copilot.cli.main → index.loaders ({edge})",
        "copilot.core.types → copilot.access (core imports nothing of ours)",
        "index.store → copilot.engine (index imports only core)",
        "tui.chat → copilot.retrieval (the app imports only core (the contract and its records))",
    ]


def test_the_edges_never_reach_the_engine_s_workings() -> None:
    table = modules()
    for module, imported in table.items():
        if within(module, "tui", "copilot.cli"):
            assert not [n for n in imported if within(n, "index") or engine_side(n) and n != "copilot.engine"], module


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


@pytest.mark.parametrize("trail", [AuditLog, RemoteAudit])
def test_audit_trails_keep_to_the_contract(trail: type) -> None:
    for name, sig in _members(AuditTrail).items():
        if sig is not None:
            assert _params(inspect.signature(getattr(trail, name))) == _params(sig), name
    assert isinstance(AuditLog(ROOT / "nonexistent" / "audit.jsonl"), AuditTrail)
