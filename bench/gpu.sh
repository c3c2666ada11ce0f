#!/usr/bin/env bash
# The GPU path on the device machine (issue 20), in two calls that fit its 10-minute limit:
#   bash bench/gpu.sh build     llama.cpp with CUDA (loadable backends, as LLAMA_BUILD=cuda builds it),
#                               then models of the 0.5B and 1.5B defaults' exact shapes, random weights, Q4_K_M
#   bash bench/gpu.sh measure   the GPU tests (tests/system/test_gpu.py), then bench/bench_gpu.py measure
# It needs .gpu/ carried (bench/gpu/prepare.sh makes it: the trimmed llama.cpp source, llama_cpp's Python files,
# two wheels, the models' skeletons). Results and logs go to $OUT.
set -euo pipefail
OUT=${OUT:-/tmp/gpu-out}
W=/tmp/gpu
mkdir -p "$OUT" "$W"
export PYTHONPATH=$W/site:$PWD PYTHONUNBUFFERED=1
step() { echo "[$(date +%T)] $*"; }

if [[ ${1:-} == build ]]; then
  step "$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader); $(nproc) cores"
  python3 -m pip install -q --no-index --no-deps --no-compile --target "$W/site" .gpu/whl/*.whl
  cp -r .gpu/site/llama_cpp "$W/site/"
  tar xzf .gpu/llama.cpp.tar.gz -C "$W"
  # cuBLAS may come as pip's nvidia-cublas (nvidia/cu13/lib) rather than in the toolkit; the driver's
  # libcuda may be absent at build time (then no VMM pool: cudart reaches the driver at run time).
  hints=()
  if ! compgen -G "/usr/local/cuda/lib64/libcublas.so*" >/dev/null; then
    blas=$(find / -name 'libcublas.so.*' -not -path '/proc/*' 2>/dev/null | head -1)
    head=$(find / -name cublas_v2.h -not -path '/proc/*' 2>/dev/null | head -1)
    [[ -n $blas && -n $head ]] || { echo "no cuBLAS on this machine"; exit 1; }
    blas_dir=$(dirname "$blas")
    echo "$blas_dir" > "$W/cublas-dir"
    hints+=("-DCUDA_cublas_LIBRARY=$blas" "-DCUDA_cublasLt_LIBRARY=$(ls "$blas_dir"/libcublasLt.so.* | head -1)"
            "-DCMAKE_CUDA_FLAGS=-I$(dirname "$head")" "-DCMAKE_CXX_FLAGS=-I$(dirname "$head")")
  fi
  driver=$(find /usr/local/cuda /usr/local/nvidia /usr/lib /usr/lib64 -name 'libcuda.so*' 2>/dev/null | head -1 || true)
  if [[ -n $driver ]]; then hints+=("-DCUDA_cuda_driver_LIBRARY=$driver"); else hints+=(-DGGML_CUDA_NO_VMM=ON); fi
  step "configuring with: ${hints[*]}"
  cmake -S "$W/llama.cpp" -B "$W/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
    -DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON -DGGML_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90 -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_SERVER=OFF "${hints[@]}" > "$OUT/cmake.log" 2>&1 || { grep -A8 "CMake Error" "$OUT/cmake.log"; exit 1; }
  # The CPU kernels of the x86-64 generations a GPU server may have (the bundle's build carries 13).
  cpus=$(for v in x64 haswell skylakex icelake cooperlake zen4 alderlake; do printf 'ggml-cpu-%s ' $v; done)
  step "building"
  cmake --build "$W/build" -j "$(nproc)" --target llama ggml-cuda $cpus llama-bench llama-batched-bench \
    llama-quantize > "$OUT/build.log" 2>&1 || { grep -m5 -B2 -A8 "error" "$OUT/build.log"; exit 1; }
  # As copilot's builds do (scripts/llama-cpu-variants.cmake): no Sapphire Rapids (AMX) kernels. ggml builds
  # them with the others; the 2026-11-27 run kept them, Python loaded them, and every model load crashed.
  rm -f "$W/build/bin/libggml-cpu-sapphirerapids.so"
  mkdir -p "$W/site/llama_cpp/lib"
  cp -a "$W"/build/bin/lib*.so* "$W/site/llama_cpp/lib/"
  for m in 0.5b 1.5b; do
    step "model of the $m shape"
    python3 bench/gpu/shapes.py build ".gpu/$m.skeleton.gguf" "$W/$m-f16.gguf"
    "$W/build/bin/llama-quantize" "$W/$m-f16.gguf" "$W/$m-q4km.gguf" Q4_K_M "$(nproc)" > "$OUT/quantize-$m.log" 2>&1
    rm "$W/$m-f16.gguf"
  done
  ls -la "$W"/*.gguf
  step "built"
elif [[ ${1:-} == measure ]]; then
  [[ ! -f $W/cublas-dir ]] || export LD_LIBRARY_PATH=$(cat "$W/cublas-dir")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  step "which kernels copilot loads, and a model load with a trace if it crashes"
  python3 -X faulthandler -c "from copilot.llama.runtime import backends; print(backends())
from llama_cpp import Llama; Llama('$W/0.5b-q4km.gguf', n_gpu_layers=99, verbose=True); print('model loaded')" \
    > "$OUT/load.log" 2>&1 || true
  grep -E "^Backends|model loaded|Fatal" "$OUT/load.log" || true
  step "GPU tests"
  COPILOT_TEST_GPU_MODEL=$W/0.5b-q4km.gguf python3 -m pytest -q --noconftest -p no:cacheprovider \
    tests/system/test_gpu.py tests/system/test_compute.py::test_the_kernels_in_use_are_named_and_are_the_best_this_cpu_can_run \
    2>&1 | tee "$OUT/tests.log" | tail -25 || true  # the benchmarks run even if a test fails
  step "benchmarks"
  python3 bench/bench_gpu.py measure --bin "$W/build/bin" --models "$W" --out "$OUT/gpu.json"
  step "measured"
else
  echo "usage: bash bench/gpu.sh build|measure" >&2; exit 2
fi
