#!/usr/bin/env bash
# Build the offline installer from a fresh setup: scripts/bundle.sh [copilot bundle options]
#   scripts/bundle.sh --out dist                       CPU build (what the tests install)
#   LLAMA_CMAKE_ARGS="-DGGML_CUDA=on" scripts/bundle.sh --out dist-cuda   llama.cpp for NVIDIA GPUs
# The archive, its .sha256 and a size report land in the --out folder (default dist/).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/copilot bundle "$@"
