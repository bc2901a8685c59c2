#!/usr/bin/env bash
# Runs ruff's lint and format checks, then accord's whole test suite, after installing everything
# it needs (apt services as root, the Python environment, vLLM's CPU build). Extra arguments go
# to pytest, e.g.
#   ./scripts/test.sh -m "not slow"
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --full
. .venv/bin/activate
# Lint first: style and import order are checked like behaviour (config in pyproject.toml).
ruff check .
ruff format --check .
export ACCORD_TEST_POSTGRES_URL=${ACCORD_TEST_POSTGRES_URL:-postgresql+psycopg://accord:accord@127.0.0.1:5432/postgres}
set +e
python -m pytest -p no:cacheprovider --timeout=1200 "$@"
rc=$?
set -e
# pytest exits 5 when a selection matched no test: nothing failed.
if [ $rc -eq 5 ]; then echo "no tests collected"; exit 0; fi
exit $rc
