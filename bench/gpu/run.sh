#!/usr/bin/env bash
# The one command for GPU figures: installs the carried wheels, measures everything within a
# hard time budget and writes figures.json, figures.md, phase-*.json and run.log under $OUT.
#
#     bash bench/gpu/wheels.sh                 # beforehand, on a machine with a registry: .whl/
#     OUT=/some/folder bash bench/gpu/run.sh   # on the GPU machine (6.5 min at most)
#     OUT=/tmp/dry bash bench/gpu/run.sh --dry-run   # the same code on a CPU, tiny shapes
#     OUT=/some/folder bash bench/gpu/run.sh --phases generation --shapes qwen2.5-1.5b
#                                              # a subset (after --dry-run, if given, go on)
#     python bench/gpu/report.py "$OUT/figures.json" --readme README.md   # the README table
#
# Environment: PYTHON (default python3), BENCH_BUDGET_S (seconds for the whole call, default
# 390 on a GPU), BENCH_WHEELS (default .whl at the repository root), BENCH_WORK (scratch).
# accord's wheels are installed only where trl, datasets, sqlmodel, alembic and
# pydantic_settings do not import already; trl 1.12 always goes to a folder of its own, used
# only by the trl 1.12 PPOTrainer process.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
DRY=""
if [[ "${1:-}" == "--dry-run" ]]; then DRY="--dry-run"; shift; fi
# Anything else goes to measure.py (--phases, --shapes).
START=$(date +%s)
OUT="${OUT:-$ROOT/bench/results/gpu}"
PYTHON="${PYTHON:-python3}"
WHEELS="${BENCH_WHEELS:-$ROOT/.whl}"
WORK="${BENCH_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/accord-gpu-bench.XXXXXX")}"
mkdir -p "$OUT" "$WORK"
exec > >(tee -a "$OUT/run.log") 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
  HF_DATASETS_OFFLINE=1 ACCORD_HOME="$WORK/home"
echo "== $(date -u '+%F %T UTC') $(hostname) ${DRY:-gpu run}; load: $(cut -d' ' -f1-3 /proc/loadavg)"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$PYTHON" --version

install() {  # install FOLDER WHEEL...
  local into="$1"; shift
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$into" "$@" || { echo "!! pip install into $into failed"; return 1; }
}

PYPATH="$ROOT/platform"
if "$PYTHON" -c "import trl, datasets, sqlmodel, alembic, pydantic_settings" 2>/dev/null; then
  echo "accord's dependencies import already: no wheel installed"
elif compgen -G "$WHEELS/*.whl" >/dev/null; then
  install "$WORK/site" "$WHEELS"/*.whl && PYPATH="$WORK/site:$PYPATH"
else
  echo "!! no wheels in $WHEELS (run bench/gpu/wheels.sh where a registry is reachable)"
fi
export PYTHONPATH="$PYPATH${PYTHONPATH:+:$PYTHONPATH}"
if compgen -G "$WHEELS/trl112/*.whl" >/dev/null && install "$WORK/site-trl112" "$WHEELS"/trl112/*.whl; then
  export TRL112_SITE="$WORK/site-trl112"
else
  echo "!! trl 1.12 wheel missing: the PPOTrainer comparison will be skipped"
fi

ARGS=(--out "$OUT" --work "$WORK")
if [[ -z "$DRY" || -n "${BENCH_BUDGET_S:-}" ]]; then
  LEFT=$(( ${BENCH_BUDGET_S:-390} - ($(date +%s) - START) - 15 ))  # 15 s for the table and exit
  ARGS+=(--budget "$LEFT")
  LIMIT=$(( LEFT + 30 ))
else
  LIMIT=750
fi
timeout -k 5 "$LIMIT" "$PYTHON" -u bench/gpu/measure.py $DRY "${ARGS[@]}" "$@"
RC=$?
echo "== exit $RC after $(( $(date +%s) - START )) s; load: $(cut -d' ' -f1-3 /proc/loadavg); files in $OUT:"
ls -l "$OUT"
exit $RC
