#!/usr/bin/env bash
# Install (or upgrade in place) the offline copilot from this folder, with no network.
#   ./install.sh [PREFIX]        default PREFIX: ~/.local/copilot
#   PYTHON=/path/to/python3 ./install.sh   to choose the interpreter (a series the bundle carries)
# Nothing is changed before every file has passed its SHA256SUMS check and this
# machine's Python, architecture and CPU are ones the bundle was built for.
# The user's index and conversations live in $COPILOT_HOME (not under PREFIX):
# re-running this keeps them.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PREFIX=${1:-$HOME/.local/copilot}
say() { printf '%s\n' "$*"; }
fail() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

say "checking every file of the bundle against SHA256SUMS"
cd "$HERE"
[[ -f SHA256SUMS ]] || fail "SHA256SUMS is missing: the bundle is incomplete"
bad=$(sha256sum -c SHA256SUMS 2>/dev/null | grep -v ': OK$' || true)
if [[ -n $bad ]]; then
  fail "refusing to install: these files do not match SHA256SUMS (damaged or altered):
$(printf '%s\n' "$bad" | sed 's/^/  /')"
fi
listed=$(sed 's/^[0-9a-f]*  //' SHA256SUMS | sort)
present=$(find . -type f ! -name SHA256SUMS | sed 's|^\./||' | sort)
extra=$(comm -13 <(printf '%s\n' "$listed") <(printf '%s\n' "$present"))
[[ -z $extra ]] || fail "refusing to install: files not in SHA256SUMS were added: $extra"

# shellcheck source=/dev/null
. "$HERE/BUILD-INFO"  # read only once it has passed its check

# The interpreter: $PYTHON, else the first of python3 and python3.X (each series carried) that
# is one the bundle has wheels for.
series_of() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo none; }
carried=" $(for v in $PYTHONS; do printf '%s ' "${v%.*}"; done)"
if [[ -n ${PYTHON:-} ]]; then
  PY=$PYTHON
else
  PY=""
  for candidate in python3 $(printf 'python%s ' $carried); do
    command -v "$candidate" >/dev/null && [[ $carried == *" $(series_of "$candidate") "* ]] && { PY=$candidate; break; }
  done
  [[ -n $PY ]] || fail "this bundle installs on Python$carried(python3 or python3.X); none was found. Set PYTHON=/path/to/python3"
fi
have=$(series_of "$PY")
[[ $carried == *" $have "* ]] || fail "this bundle carries wheels for Python$carried(not $have, which $PY is). Set PYTHON=/path/to/one of those"
full=$("$PY" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
for v in $PYTHONS; do
  [[ ${v%.*} == "$have" ]] && need=$v
done
"$PY" -c "import sys; sys.exit(sys.version_info[:3] < tuple(map(int, '$need'.split('.'))))" ||
  fail "this bundle needs Python $need or later of the $have series; $PY is $full"
[[ $(uname -m) == "$MACHINE" ]] || fail "this bundle is for $MACHINE machines; this one is $(uname -m)"
if [[ -n $CPU_FLAGS && -r /proc/cpuinfo ]]; then
  cpu=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
  missing=""
  for flag in $CPU_FLAGS; do [[ $cpu == *" $flag "* ]] || missing+=" $flag"; done
  [[ -z $missing ]] || fail "this bundle's llama.cpp was compiled for CPUs with:$missing, which this CPU lacks;
  build the bundle with LLAMA_CMAKE_ARGS set for this CPU (see INSTALL.txt)"
fi

say "installing into $PREFIX with $PY ($full)"
mkdir -p "$PREFIX/bin"
if [[ -x $PREFIX/venv/bin/python && $(series_of "$PREFIX/venv/bin/python") != "$have" ]]; then
  rm -rf "$PREFIX/venv"  # made by another Python series: its wheels do not fit this one
fi
# Only the bundle's wheels: no index, and none of this machine's pip settings.
export PIP_CONFIG_FILE=/dev/null PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1
if [[ ! -x $PREFIX/venv/bin/python ]]; then
  # Without ensurepip (Debian ships it apart, in python3-venv): pip comes from the bundle's wheel.
  "$PY" -m venv --without-pip "$PREFIX/venv"
fi
pip_wheel=$(ls "$HERE"/wheelhouse/pip-*.whl)
"$PREFIX/venv/bin/python" -m pip --version >/dev/null 2>&1 ||
  "$PREFIX/venv/bin/python" "$pip_wheel/pip" install -q --no-index "$pip_wheel"
"$PREFIX/venv/bin/python" -m pip install -q --no-index --find-links "$HERE/wheelhouse" \
  -r "$HERE/requirements-$have.txt"
# Model packages, without the dependencies they declare for making them (BUILD-INFO's NO_DEPS).
[[ -z $NO_DEPS ]] || (cd "$HERE/wheelhouse" && "$PREFIX/venv/bin/python" -m pip install -q --no-index --no-deps $NO_DEPS)
# The same version built again (a fix) must replace the one installed, not be skipped.
"$PREFIX/venv/bin/python" -m pip install -q --no-index --force-reinstall --no-deps \
  "$HERE"/wheelhouse/firm_copilot-*.whl
# The embedder's ONNX export, made on the build machine (the copilot reads it from here).
embedders="$PREFIX/venv/share/firm-copilot/embedders"
for export in "$HERE"/embedders/*/*; do
  target="$embedders/$(basename "$(dirname "$export")")/$(basename "$export")"
  mkdir -p "$(dirname "$target")"
  cmp -s "$export" "$target" 2>/dev/null || { cp "$export" "$target.part" && mv "$target.part" "$target"; }
done
if [[ -x $HERE/llama-server/llama-server ]]; then
  # llama.cpp's model server for `copilot serve` (deploy/copilot-model.service), swapped in whole.
  mkdir -p "$PREFIX/venv/libexec"
  rm -rf "$PREFIX/venv/libexec/llama-server.new"
  cp -a "$HERE/llama-server" "$PREFIX/venv/libexec/llama-server.new"
  rm -rf "$PREFIX/venv/libexec/llama-server"
  mv "$PREFIX/venv/libexec/llama-server.new" "$PREFIX/venv/libexec/llama-server"
  ln -sfn ../libexec/llama-server/llama-server "$PREFIX/venv/bin/llama-server"
fi
if [[ ${LLAMA_GPU:-} == CUDA ]]; then
  # The CUDA kernels load only where the driver and the CUDA runtime's cuBLAS are on the library path.
  libs=$(ldconfig -p 2>/dev/null || true)
  missing=""
  [[ $libs == *"libcuda.so.1 "* ]] || missing+=" the NVIDIA driver (libcuda.so.1)"
  [[ $libs == *"libcublas.so."* ]] || missing+="${missing:+ and} the CUDA runtime's cuBLAS (libcublas)"
  if [[ -z $missing ]]; then
    say "llama.cpp: built for NVIDIA GPUs; driver and cuBLAS found (gpu_layers in config.toml puts layers on the GPU)"
  else
    say "llama.cpp: built for NVIDIA GPUs, but this machine lacks$missing: the CPU will answer"
  fi
fi
if [[ $LLAMA_KERNELS == portable ]]; then
  say "llama.cpp: portable build; on this CPU: $("$PREFIX/venv/bin/python" -c \
    'from copilot.llama.runtime import backends; print(backends().describe())' 2>&1 | tail -1)"
fi

if [[ $MODELS == yes ]]; then
  mkdir -p "$PREFIX/models"
  for model in "$HERE"/models/*; do
    target="$PREFIX/models/$(basename "$model")"
    if ! cmp -s "$model" "$target" 2>/dev/null; then
      cp "$model" "$target.part" && mv "$target.part" "$target"  # never a half-copied model
    fi
  done
  models_line=": \"\${COPILOT_MODELS_HOME:=$PREFIX/models}\"; export COPILOT_MODELS_HOME"
else
  models_line="# models: this bundle carries none; set models_home in config.toml to the shared folder"
fi

cat > "$PREFIX/bin/copilot.tmp" <<EOF
#!/bin/sh
# The offline copilot, installed by install.sh from copilot-offline-$VERSION.
$models_line
exec "$PREFIX/venv/bin/copilot" "\$@"
EOF
chmod 755 "$PREFIX/bin/copilot.tmp"
mv "$PREFIX/bin/copilot.tmp" "$PREFIX/bin/copilot"

say "installed copilot $VERSION: $PREFIX/bin/copilot"
case ":$PATH:" in
  *":$PREFIX/bin:"*) ;;
  *) say "add it to your PATH:  export PATH=\"$PREFIX/bin:\$PATH\"" ;;
esac
say ""
"$PREFIX/bin/copilot" doctor
