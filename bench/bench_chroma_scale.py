"""How one Chroma server grows: insert rate, query latency and memory as the index grows.

Random unit vectors of the embedder's size (384) in a real `chroma run` on loopback, added in
batches up to each size, then 200 queries of 24 neighbours, filtered by collection like every
read of the index: what one index host can hold before `docs/scaling.md`'s next step is needed.

    .venv/bin/python bench/bench_chroma_scale.py --sizes 20000,100000,300000
"""

from __future__ import annotations

import argparse
import shutil
import socket
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

BIN = Path(sys.executable).parent


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    import numpy as np

    from copilot.core import offline

    offline.set_flags()
    import chromadb
    from chromadb.config import Settings

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="20000,100000,300000")
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="bench-chroma-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([str(BIN / "chroma"), "run", "--path", str(work), "--host", "127.0.0.1",
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    rows, raw = [], []
    try:
        for _ in range(300):
            try:
                client = chromadb.HttpClient(host="127.0.0.1", port=port,
                                             settings=Settings(anonymized_telemetry=False))
                client.heartbeat()
                break
            except Exception:
                time.sleep(0.2)
        col = client.get_or_create_collection("chunks", metadata={"hnsw:space": "cosine"}, embedding_function=None)
        rng = np.random.default_rng(19)
        batch = min(5000, client.get_max_batch_size())
        have = 0
        for size in sizes:
            started = time.monotonic()
            while have < size:
                n = min(batch, size - have)
                vectors = rng.standard_normal((n, 384)).astype(np.float32)
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                col.add(ids=[f"c{have + i}" for i in range(n)], embeddings=vectors,
                        metadatas=[{"collection": f"matter-{(have + i) % 50}"} for i in range(n)])
                have += n
            added = time.monotonic() - started
            queries = rng.standard_normal((args.queries, 384)).astype(np.float32)
            times = []
            for q in queries:
                t = time.monotonic()
                col.query(query_embeddings=[q], n_results=24,
                          where={"collection": {"$in": [f"matter-{i}" for i in range(10)]}})
                times.append((time.monotonic() - t) * 1000)
            times.sort()
            row = {"chunks": size, "added_per_s": (size - (sizes[sizes.index(size) - 1] if sizes.index(size) else 0))
                   / added, "query_p50_ms": statistics.median(times),
                   "query_p95_ms": times[int(0.95 * (len(times) - 1))], "rss_mib": rss_mib(server.pid),
                   "disk_mib": sum(f.stat().st_size for f in work.rglob("*") if f.is_file()) / 2**20}
            raw.append(row)
            rows.append((f"{size:,}", f"{row['added_per_s']:,.0f}", f"{row['query_p50_ms']:.1f} / {row['query_p95_ms']:.1f}",
                         f"{row['rss_mib']:,.0f}", f"{row['disk_mib']:,.0f}"))
            print(rows[-1], file=sys.stderr)
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(work, ignore_errors=True)
    record(__file__, rows, "random 384-d unit vectors (the embedder's size) in one `chroma run` on loopback, "
           f"{args.queries} queries of 24 neighbours each, filtered to 10 of 50 collections as the walls filter",
           {"rows": raw}, headers=("chunks", "added/s", "query p50 / p95 (ms)", "server RSS (MiB)", "disk (MiB)"))


if __name__ == "__main__":
    main()
