#!/usr/bin/env bash
# Download the wheels bench/gpu/run.sh installs on a GPU machine that reaches no package
# registry: what accord imports on the measured paths and the image lacks, plus trl 1.12 for
# the PPOTrainer comparison (in .whl/trl112/, installed into its own folder: trl 1.12 and
# the trl accord uses cannot share one path). Manylinux x86_64, CPython 3.12.
#
#     bash bench/gpu/wheels.sh            # writes .whl/ at the repository root (≈ 10 MiB)
#
# The image already has torch, transformers 5.17, accelerate, numpy, tokenizers, safetensors,
# huggingface_hub, pandas, pyarrow, fsspec, xxhash, psutil, jinja2, pyyaml, rich, typer, httpx:
# none of them is downloaded, because `pip install --target` of a package the image has would
# put a second copy in front of it. datasets is 4.8.5 (not 5.x): 5.x needs huggingface_hub
# >= 1.31 while transformers 5.17 accepts any 1.5 <= hub < 2.0, and 4.8.5 runs with all of them.
# tests/bench/test_gpu_wheels.py installs this set into a clean Python 3.12 venv with the
# image's packages and imports every module bench/gpu imports.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEST="${1:-$ROOT/.whl}"
PYTHON="${PYTHON:-python3}"
PYVER="${PYVER:-3.12}"  # the GPU image's; the completeness test fetches the same set for its own

ACCORD_WHEELS=(
  trl==1.16.0
  datasets==4.8.5 dill==0.4.1 multiprocess==0.70.19
  sqlmodel==0.0.50 SQLAlchemy==2.1.9 alembic==1.20.1 Mako==1.4.3
  pydantic==2.14.4 pydantic_core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5
  typing_extensions==4.16.0 pydantic-settings==2.16.3 python-dotenv==1.2.4
)
TRL112_WHEELS=(trl==1.12.0)

download() {
  local into="$1"; shift
  mkdir -p "$into"
  "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --python-version "$PYVER" \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d "$into" "$@"
}

rm -rf "$DEST"
download "$DEST" "${ACCORD_WHEELS[@]}"
download "$DEST/trl112" "${TRL112_WHEELS[@]}"
echo "wheels in $DEST: $(find "$DEST" -name '*.whl' | wc -l) files, $(du -sh "$DEST" | cut -f1)"
