#!/usr/bin/env bash
# Starts the local PostgreSQL cluster for tests and creates the `accord` role (idempotent).
#   ./scripts/postgres.sh start | stop
# Test URL: postgresql+psycopg://accord:accord@127.0.0.1:5432/postgres (ACCORD_TEST_POSTGRES_URL)
set -euo pipefail
cmd=${1:-start}
ver=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)
if [ -z "$ver" ]; then echo "[postgres] not installed (apt-get install postgresql)"; exit 0; fi
if [ "$cmd" = stop ]; then pg_ctlcluster "$ver" main stop || true; exit 0; fi
pg_lsclusters -h | grep -q "^$ver *main" || pg_createcluster "$ver" main >/dev/null
pg_ctlcluster "$ver" main start 2>/dev/null || true
for _ in $(seq 1 50); do
  su postgres -c "psql -qAtc 'select 1'" >/dev/null 2>&1 && break; sleep 0.2
done
su postgres -c "psql -qAtc \"select 1 from pg_roles where rolname='accord'\"" | grep -q 1 ||
  su postgres -c "psql -qc \"CREATE ROLE accord LOGIN SUPERUSER PASSWORD 'accord'\""
echo "[postgres] $ver running; role accord ready"
