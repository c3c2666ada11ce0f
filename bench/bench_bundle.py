"""The offline installer: how long `copilot bundle` takes, how big the archive is, how it installs and runs.

  build     - `copilot bundle` from this environment (pip's cache warm, as on a build machine
              that ran scripts/setup.sh): wheels for Python 3.11 and 3.12, the embedder's ONNX export;
  unpack    - tar xzf of the archive;
  per Python (each stock interpreter found: Debian's /usr/bin/python3.11, pyenv's 3.12):
    install   - install.sh into a fresh prefix inside `unshare -n` (no network at all),
                checksums and `copilot doctor` included;
    reinstall - install.sh again over it (the upgrade path);
    first use - index examples/ and answer one question with the installed copy, still offline;
  llama.cpp - generation and prompt tokens/s of the bundle's llama.cpp wheel (portable: the kernels
              it picks for this CPU) against a build for this CPU alone (LLAMA_BUILD=native
              scripts/setup.sh, found in its wheel cache, or --native-wheel), and of the bundle's
              haswell kernels (what a CPU with AVX2 and no AVX-512 runs), alternated in one run.

    .venv/bin/python bench/bench_bundle.py [--native-wheel PATH] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from report import record  # noqa: E402

COPILOT = str(Path(sys.executable).with_name("copilot"))
QUESTION = "How long does the firm keep client matter files?"
PYTHONS = {"3.11": "/usr/bin/python3.11", "3.12": str(max(Path.home().glob(".pyenv/versions/3.12.*/bin/python3.12"),
                                                          default=""))}

# Run in a child whose PYTHONPATH puts one llama.cpp build first: load, read a prompt, generate.
SPEED = """
import json, sys, time
from llama_cpp import Llama
from copilot.llama.runtime import backends, default_threads
used = backends(sys.argv[2])
llm = Llama(model_path=sys.argv[1], n_ctx=1024, n_threads=default_threads(), verbose=False)
prompt = llm.tokenize(("The parties agree that the Supplier shall indemnify the Customer. " * 40).encode())[:384]
began = time.perf_counter(); llm.eval(prompt); read = time.perf_counter() - began
token, made, began = prompt[-1], 0, time.perf_counter()
for _ in range(96):
    token = llm.sample(temp=0.0); llm.eval([token]); made += 1
print(json.dumps({"variant": used.variant, "prompt": len(prompt) / read, "gen": made / (time.perf_counter() - began)}))
"""


def timed(args: list[str], env: dict | None = None) -> float:
    began = time.perf_counter()
    run = subprocess.run(args, env=env, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"{' '.join(args[:3])} failed:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
    return time.perf_counter() - began


def native_wheel() -> Path | None:
    """The llama.cpp wheel scripts/setup.sh built for this CPU alone (LLAMA_BUILD=native), if cached."""
    for args in sorted((Path.home() / ".cache" / "firm-copilot" / "wheels").glob("llama-*/CMAKE_ARGS")):
        if "GGML_BACKEND_DL" not in args.read_text() and "CUDA" not in args.read_text():
            return next(args.parent.glob("llama_cpp_python-*.whl"), None)
    return None


def speeds(builds: dict[str, tuple[Path, str]], model: Path, rounds: int, work: Path) -> dict[str, dict]:
    """Each build's median prompt and generation tokens/s (name → (wheel, kernels to prefer or "")),
    the builds alternated round by round."""
    sites = {}
    for wheel in {wheel for wheel, _ in builds.values()}:
        sites[wheel] = work / f"llama-{len(sites)}"
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(sites[wheel]),
                        str(wheel)], check=True)
    runs: dict[str, list[dict]] = {name: [] for name in builds}
    for _ in range(rounds):
        for name, (wheel, prefer) in builds.items():
            out = subprocess.run([sys.executable, "-c", SPEED, str(model), prefer], capture_output=True, text=True,
                                 env={"PYTHONPATH": f"{sites[wheel]}:{ROOT}", "PATH": "/usr/bin:/bin"})
            if out.returncode != 0:
                sys.exit(f"{name} llama.cpp failed:\n{out.stderr[-2000:]}")
            runs[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {name: {"variant": r[0]["variant"], "prompt": statistics.median(x["prompt"] for x in r),
                   "gen": statistics.median(x["gen"] for x in r)} for name, r in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--native-wheel", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from copilot.core.config import Config
    from copilot.llama.models import resolve_llm

    native = args.native_wheel or native_wheel()
    with tempfile.TemporaryDirectory(prefix="bench-bundle-") as tmp:
        work = Path(tmp)
        build_s = timed([COPILOT, "bundle", "--out", str(work / "dist")])
        archive = next((work / "dist").glob("*.tar.gz"))
        (work / "x").mkdir()
        unpack_s = timed(["tar", "xzf", str(archive), "-C", str(work / "x")])
        (folder,) = (work / "x").iterdir()
        unpacked = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        wheels = sorted((folder / "wheelhouse").glob("*.whl"), key=lambda p: -p.stat().st_size)
        export = sum(p.stat().st_size for p in (folder / "embedders").rglob("*") if p.is_file())
        rows = [
            ("bundle build (s)", f"{build_s:.1f}"),
            ("archive (MiB compressed / unpacked)", f"{archive.stat().st_size / 2**20:.1f} / {unpacked / 2**20:.1f}"),
            ("wheels for 3.11 and 3.12 (count / MiB)",
             f"{len(wheels)} / {sum(w.stat().st_size for w in wheels) / 2**20:.1f}"),
            ("largest wheels (MiB)", ", ".join(f"{w.name.split('-')[0]} {w.stat().st_size / 2**20:.0f}"
                                               for w in wheels[:4])),
            ("embedder's ONNX int8 export carried (MiB)", f"{export / 2**20:.1f}"),
            ("models (MiB)", f"{sum(p.stat().st_size for p in (folder / 'models').glob('*')) / 2**20:.1f}"),
            ("unpack (s)", f"{unpack_s:.1f}"),
        ]
        offline = ["unshare", "-n"]
        for series, python in PYTHONS.items():
            if not python or not Path(python).is_file():
                rows.append((f"Python {series}", "not found here: not measured"))
                continue
            full = subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                                  capture_output=True, text=True).stdout.strip()
            home, prefix = work / f"home-{series}", work / f"prefix-{series}"
            home.mkdir()
            env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHON": python}
            install_s = timed([*offline, "bash", str(folder / "install.sh"), str(prefix)], env)
            again_s = timed([*offline, "bash", str(folder / "install.sh"), str(prefix)], env)
            launcher = str(prefix / "bin" / "copilot")
            index_s = timed([*offline, launcher, "index", str(ROOT / "examples")], env)
            ask_s = timed([*offline, launcher, "ask", QUESTION], env)
            rows += [(f"Python {full} ({python}): install fresh / re-install (s)", f"{install_s:.1f} / {again_s:.1f}"),
                     (f"Python {full}: first index of examples/ / first answer (s)", f"{index_s:.1f} / {ask_s:.1f}")]
        portable = next((folder / "wheelhouse").glob("llama_cpp_python-*.whl"))
        model = resolve_llm(Config.model, Config().models_dir)
        if native is None:
            rows.append(("llama.cpp, this CPU alone", "no native wheel (LLAMA_BUILD=native scripts/setup.sh): "
                                                      "not measured"))
        else:
            got = speeds({"bundle": (portable, ""), "native": (native, ""),
                          "bundle, an AVX2-only CPU's": (portable, "haswell")}, model, args.rounds, work)
            for name, s in got.items():
                rows.append((f"llama.cpp {name} build ({s['variant']} kernels): prompt / generation tok/s",
                             f"{s['prompt']:.1f} / {s['gen']:.1f}"))
            rows.append(("bundle / native, prompt and generation tok/s",
                         f"{got['bundle']['prompt'] / got['native']['prompt']:.3f} and "
                         f"{got['bundle']['gen'] / got['native']['gen']:.3f}"))
    record(__file__, rows, "the bundle of this environment (default model included), installed in `unshare -n` "
           f"on each stock Python; llama.cpp speed with {model.name}, {args.rounds} alternated rounds, median",
           {"archive": archive.name})


if __name__ == "__main__":
    main()
