"""The offline installer: how long `copilot bundle` takes, how big the archive is, how long it installs.

  build    - `copilot bundle` from this environment (pip's cache warm, as on a build machine
             that ran scripts/setup.sh);
  unpack   - tar xzf of the archive;
  install  - install.sh into a fresh prefix inside `unshare -n` (no network at all),
             checksums and `copilot doctor` included;
  reinstall- install.sh again over it (the upgrade path);
  first use- index examples/ and answer one question with the installed copy, still offline.

    .venv/bin/python bench/bench_bundle.py
"""

from __future__ import annotations

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


def timed(args: list[str], env: dict | None = None) -> float:
    began = time.perf_counter()
    run = subprocess.run(args, env=env, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"{' '.join(args[:3])} failed:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
    return time.perf_counter() - began


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-bundle-") as tmp:
        work = Path(tmp)
        build_s = timed([COPILOT, "bundle", "--out", str(work / "dist")])
        archive = next((work / "dist").glob("*.tar.gz"))
        (work / "x").mkdir()
        unpack_s = timed(["tar", "xzf", str(archive), "-C", str(work / "x")])
        (folder,) = (work / "x").iterdir()
        unpacked = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        env = {"HOME": str(work / "home"), "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
               "PYTHON": sys._base_executable}
        (work / "home").mkdir()
        offline = ["unshare", "-n"]
        install_s = timed([*offline, "bash", str(folder / "install.sh"), str(work / "prefix")], env)
        again_s = timed([*offline, "bash", str(folder / "install.sh"), str(work / "prefix")], env)
        launcher = str(work / "prefix" / "bin" / "copilot")
        index_s = timed([*offline, launcher, "index", str(ROOT / "examples")], env)
        ask_s = timed([*offline, launcher, "ask", "How long does the firm keep client matter files?"], env)
        wheels = sorted((folder / "wheelhouse").glob("*.whl"), key=lambda p: -p.stat().st_size)
        rows = [
            ("bundle build (s)", f"{build_s:.1f}"),
            ("archive (MiB compressed / unpacked)", f"{archive.stat().st_size / 2**20:.1f} / {unpacked / 2**20:.1f}"),
            ("wheels (count / MiB)", f"{len(wheels)} / {sum(w.stat().st_size for w in wheels) / 2**20:.1f}"),
            ("largest wheels (MiB)", ", ".join(f"{w.name.split('-')[0]} {w.stat().st_size / 2**20:.0f}"
                                               for w in wheels[:4])),
            ("models (MiB)", f"{sum(p.stat().st_size for p in (folder / 'models').glob('*')) / 2**20:.1f}"),
            ("unpack (s)", f"{unpack_s:.1f}"),
            ("install offline, fresh prefix (s)", f"{install_s:.1f}"),
            ("re-install over it (s)", f"{again_s:.1f}"),
            ("installed: index examples/ (s) / first answer (s)", f"{index_s:.1f} / {ask_s:.1f}"),
        ]
    record(__file__, rows, "the CPU bundle of this environment (default model included), installed in `unshare -n`",
           {"archive": archive.name})


if __name__ == "__main__":
    main()
