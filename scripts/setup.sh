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

# llama.cpp's own model server, llama-server (parallel slots, continuous batching, a prompt cache):
# what `copilot serve` talks to by default (deploy/copilot-model.service).  Built from the llama.cpp
# source the wheel was built from, against the wheel's own ggml (LLAMA_USE_SYSTEM_GGML: no kernels
# are compiled twice), and only its target: once per version and flags (about 4 minutes on 2 cores).
# It loads the wheel's CPU kernels (one per x86-64 generation, AMX left out as above; a CUDA build's
# too) from beside itself: into .venv/libexec/llama-server, with .venv/bin/llama-server pointing at it.
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
server_args="-DCMAKE_BUILD_TYPE=Release -DLLAMA_USE_SYSTEM_GGML=ON -DBUILD_SHARED_LIBS=ON
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON
  -DLLAMA_BUILD_UI=OFF -DLLAMA_OPENSSL=OFF -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON -DCMAKE_INSTALL_RPATH=\$ORIGIN"
server_cache="$HOME/.cache/firm-copilot/llama-server-$(echo "$key $server_args" | sha256sum | cut -c1-12)"
if [[ ! -x $server_cache/llama-server ]]; then
  echo "building llama-server (llama.cpp of llama-cpp-python $LLAMA_VERSION): once per version and flags"
  command -v cmake >/dev/null || pip install cmake
  src=$(mktemp -d)
  pip download --no-deps --no-binary :all: "llama-cpp-python==$LLAMA_VERSION" -d "$src"
  tar xzf "$src"/llama_cpp_python-*.tar.gz -C "$src"
  # shellcheck disable=SC2086  # the arguments are words
  PATH="$PWD/.venv/bin:$PATH" cmake -S "$src/llama_cpp_python-$LLAMA_VERSION/vendor/llama.cpp" -B "$src/build" \
    $server_args -Dggml_DIR="$site/lib/cmake/ggml" >"$src/cmake.log" 2>&1 || { tail -30 "$src/cmake.log" >&2; exit 1; }
  PATH="$PWD/.venv/bin:$PATH" cmake --build "$src/build" --target llama-server -j "$(nproc)" >"$src/build.log" 2>&1 \
    || { tail -30 "$src/build.log" >&2; exit 1; }
  rm -rf "$server_cache.tmp" && mkdir -p "$server_cache.tmp"
  cp -a "$src"/build/bin/llama-server "$src"/build/bin/*.so* "$server_cache.tmp"/
  mv "$server_cache.tmp" "$server_cache" && rm -rf "$src"
fi
rm -rf .venv/libexec/llama-server && mkdir -p .venv/libexec/llama-server
cp -a "$server_cache"/. "$site"/llama_cpp/lib/libggml*.so* .venv/libexec/llama-server/
ln -sfn ../libexec/llama-server/llama-server .venv/bin/llama-server

if [[ ${1:-} == --test ]]; then
  pip install -e '.[test]'
  pip install --no-deps -r requirements-models.txt -r requirements-test-models.txt
else
  pip install -e '.[export]'  # export: the embedder's ONNX export is made here, and carried by bundles
  pip install --no-deps -r requirements-models.txt
fi
echo "setup done: $(.venv/bin/copilot --version)"
