#!/usr/bin/env bash
# Every benchmark at one scale, on SQLite and (where the script supports it) PostgreSQL, each
# printing its figures next to its same-run baseline. One command:
#   CASEBOOK_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/postgres bench/all.sh 100000
# At 1,000,000 this takes a few hours on a 2-core machine (loading dominates).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-100000}"
PY=.venv/bin/python
: "${CASEBOOK_TEST_DATABASE_URL:?set CASEBOOK_TEST_DATABASE_URL to a PostgreSQL server}"
export CASEBOOK_TEST_DATABASE_URL

echo "## crypto_fields";  $PY -m bench.crypto_fields
echo "## audit_entry";    $PY -m bench.audit_entry
for engine in "" "--postgres"; do
  echo "## cases ${engine:-(SQLite)}";   $PY -m bench.cases --cases "$N" $engine
  echo "## imports ${engine:-(SQLite)}"; $PY -m bench.imports --cases "$N" $engine
  echo "## linkage speed ${engine:-(SQLite)}"; $PY -m bench.linkage --records 0 --speed "$N" $engine
  echo "## stats ${engine:-(SQLite)}";   $PY -m bench.stats --cases "$N" $engine
  echo "## load ${engine:-(SQLite)}";    $PY -m bench.load --seconds 600 --kill-at 300 $engine
done
echo "## linkage quality and candidate pairs"; $PY -m bench.linkage --records 100000 --pairs "$N"
echo "## the warning at entry"; $PY -m bench.entry_check
