"""`python -m copilot.server.model [llama_cpp.server's options]`: the fallback model server for
`copilot serve` (one answer at a time; the default is llama.cpp's llama-server, copilot.llama.server).

llama-cpp-python's OpenAI-compatible server, started once llama.cpp's CPU
kernels for this CPU and a GPU build's GPU backend are loaded
(copilot.llama.runtime): they are not where ggml looks for them from a Python
process, so `python -m llama_cpp.server` alone finds none.  Everything else
is llama_cpp.server's own.
"""

from __future__ import annotations

import runpy


def main() -> None:
    from copilot.llama.runtime import backends

    backends()
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
