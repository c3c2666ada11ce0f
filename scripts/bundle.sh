#!/usr/bin/env bash
# Build the offline installer from a fresh setup: scripts/bundle.sh [copilot bundle options]
#   scripts/bundle.sh --out dist                       portable CPU build, any x86-64 (what the tests install)
#   LLAMA_BUILD=native scripts/bundle.sh --out dist    llama.cpp for this machine's CPU alone
#   LLAMA_CMAKE_ARGS="-DGGML_CUDA=on" scripts/bundle.sh --out dist-cuda   llama.cpp for NVIDIA GPUs
# The archive, its .sha256 and a size report land in the --out folder (default dist/).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/copilot bundle "$@"
