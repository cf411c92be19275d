#!/usr/bin/env bash
# Create the reference-simulator environments used by the benchmark, each in its own venv so that
# neither constrains the dependencies of spikeometric_nb (.venv):
#   .venv-brian2  brian2 (+ Cython for the cython runtime target, numpy<2.4 as brian2 requires);
#                 C++ standalone mode additionally needs a C++ compiler (g++) on PATH.
#   .venv-nest    nest-simulator from its pip wheel (NEST >= 3.9 ships manylinux wheels).
#   .venv-nemos   nemos 0.2.8 (Flatiron's JAX GLM library, with the jax it pins) for the inference benchmark,
#                 run by tools/nemos_fit.py; its first import compiles and caches for a while.
# Idempotent: an environment whose marker file exists and whose import check passes is left alone.
# Usage: tools/make_reference_envs.sh [brian2|nest|nemos]...   (default: all three)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

make_env() {  # make_env DIR IMPORT_CHECK PIP_ARGS...
  local dir=$1 check=$2; shift 2
  local marker="$dir/.installed"
  if [[ -f $marker ]] && "$dir/bin/python" -c "$check" >/dev/null 2>&1; then
    echo "$dir: up to date"; return
  fi
  [[ -x $dir/bin/python ]] || "$PYTHON" -m venv "$dir"
  "$dir/bin/python" -m pip install --quiet --upgrade pip
  "$dir/bin/python" -m pip install --quiet "$@"
  "$dir/bin/python" -c "$check"
  touch "$marker"
  echo "$dir: ready"
}

ensure_cxx() {
  if ! command -v g++ >/dev/null 2>&1; then
    echo "g++ not found: trying apt-get install -y g++ (needed by brian2's cython and cpp_standalone targets)"
    if command -v apt-get >/dev/null 2>&1 && [[ $(id -u) == 0 ]]; then
      apt-get update -qq && apt-get install -y -qq g++
    else
      echo "warning: no C++ compiler; brian2 will fall back to the numpy target and cpp_standalone will fail" >&2
    fi
  fi
}

targets=("$@"); [[ ${#targets[@]} -gt 0 ]] || targets=(brian2 nest nemos)
for t in "${targets[@]}"; do
  case $t in
    brian2)
      ensure_cxx
      make_env .venv-brian2 "import brian2, Cython, numpy; print('brian2', brian2.__version__, 'numpy', numpy.__version__)" \
        brian2 "numpy<2.4" Cython ;;
    nest)
      make_env .venv-nest "import nest; print('nest', nest.__version__)" \
        nest-simulator ;;
    nemos)
      make_env .venv-nemos "import nemos, jax; print('nemos', nemos.__version__, 'jax', jax.__version__)" \
        nemos==0.2.8 ;;
    *) echo "unknown target $t (brian2|nest|nemos)" >&2; exit 2 ;;
  esac
done
