#!/usr/bin/env bash
# Usage: load-tests/foreign-ids.sh BINARY PORT — a fresh demo plus a second organization whose
# owner probes the demo's ids; prints foreign-vs-missing 404 medians (see src/bin/foreign-ids.rs).
set -euo pipefail
BIN=$1; PORT=$2
D=$(mktemp -d)
export CFLOWS_DATA_DIR=$D CFLOWS_HTTP__ADDR=127.0.0.1:$PORT CFLOWS_LOG__FILTER=warn CFLOWS_DEMO__SEED_ON_EMPTY=false
$BIN demo --password demo-pass-123 >/dev/null
$BIN create-user --email op@example.com --name "Otto Other" --password demo-pass-123 >/dev/null
$BIN create-org --name "Other Motors" --owner op@example.com >/dev/null
$BIN serve >$D/log 2>&1 &
PID=$!
for i in $(seq 1 100); do curl -sf http://127.0.0.1:$PORT/healthz >/dev/null && break; sleep 0.2; done
CFLOWS_LOAD_PASSWORD=demo-pass-123 ${FOREIGN_IDS:-target/debug/foreign-ids} --addr 127.0.0.1:$PORT --stranger op@example.com --rounds 40 || true
kill $PID; wait $PID 2>/dev/null || true
rm -rf $D
