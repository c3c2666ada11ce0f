#!/usr/bin/env bash
# Make .gpu/, what bench/gpu.sh needs on the device machine (carry it: 23 MiB of the 64 allowed):
#   llama.cpp.tar.gz   llama-cpp-python's vendored llama.cpp, without what the build does not need
#                      (vocabulary files, docs, other GPU backends): 10 MiB instead of 176
#   site/llama_cpp     llama-cpp-python's Python files, from this venv (the libraries are built there)
#   whl/               diskcache (llama_cpp imports it) and gguf (bench/gpu/shapes.py), for Python 3.12
#   *.skeleton.gguf    the default models without their weights (bench/gpu/shapes.py skeleton)
# Run here, from the repository root, after scripts/setup.sh:  bash bench/gpu/prepare.sh
set -euo pipefail
LLAMA_VERSION=0.3.36
grep -qx '/.gpu/' .git/info/exclude || echo '/.gpu/' >> .git/info/exclude
rm -rf .gpu && mkdir -p .gpu/site .gpu/whl
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.venv/bin/python -m pip download -q --no-deps --no-binary :all: "llama-cpp-python==$LLAMA_VERSION" -d "$work"
tar xzf "$work"/llama_cpp_python-*.tar.gz -C "$work"
drop=(models docs .github gguf-py examples/llama.android examples/llama.swiftui)
for backend in vulkan sycl opencl hexagon metal et cann musa; do drop+=("ggml/src/ggml-$backend"); done
tar czf .gpu/llama.cpp.tar.gz -C "$work/llama_cpp_python-$LLAMA_VERSION/vendor" \
  $(printf -- "--exclude=llama.cpp/%s " "${drop[@]}") --exclude='llama.cpp/.git*' llama.cpp
(cd .venv/lib/python3.11/site-packages && tar cf - --exclude=lib --exclude=__pycache__ llama_cpp) | (cd .gpu/site && tar xf -)
.venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 -d .gpu/whl diskcache==5.6.3 "gguf==$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("gguf"))')"
for model in qwen2.5-coder-0.5b qwen2.5-coder-1.5b; do
  path=$(.venv/bin/python -c "from copilot.core.config import Config; from copilot.llama.models import resolve_llm; print(resolve_llm('$model', Config().models_dir))")
  .venv/bin/python bench/gpu/shapes.py skeleton "$path" ".gpu/${model#qwen2.5-coder-}.skeleton.gguf"
done
du -sh .gpu
