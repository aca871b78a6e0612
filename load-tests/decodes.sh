#!/usr/bin/env bash
# Usage: BIG_PNG=file load-tests/decodes.sh BINARY PORT — 8 parallel uploads of a large image to
# a demo task; prints each answer, the wall time and the server's peak RSS (VmHWM).
set -euo pipefail
BIN=$1; PORT=$2
D=$(mktemp -d)
export CFLOWS_DATA_DIR=$D CFLOWS_HTTP__ADDR=127.0.0.1:$PORT CFLOWS_LOG__FILTER=warn CFLOWS_DEMO_PASSWORD=demo-pass-123
$BIN serve >$D/log 2>&1 &
PID=$!
for i in $(seq 1 100); do curl -sf http://127.0.0.1:$PORT/healthz >/dev/null && break; sleep 0.2; done
B=http://127.0.0.1:$PORT/api/v1
CSRF=$(curl -s -c $D/cj -H 'content-type: application/json' -d '{"email":"admin@demo-motors.example","password":"demo-pass-123"}' $B/session | python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf_token"])')
P=$(curl -s -b $D/cj $B/projects | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
T=$(curl -s -b $D/cj $B/projects/$P | python3 -c 'import json,sys; print(json.load(sys.stdin)["tasks"][0]["id"])')
echo "before uploads: $(grep VmHWM /proc/$PID/status)"
start=$(date +%s.%N)
for i in $(seq 1 8); do
  curl -s -o /dev/null -w "%{http_code} %{time_total}s\n" -b $D/cj -H "x-csrf-token: $CSRF" -F "file=@${BIG_PNG:?an 8000x8000 PNG under the upload limit};filename=big$i.png" $B/projects/$P/tasks/$T/attachments &
done
wait $(jobs -p | grep -v "^$PID$") 2>/dev/null || true
end=$(date +%s.%N)
echo "wall $(echo "$end - $start" | bc) s; after uploads: $(grep VmHWM /proc/$PID/status)"
kill $PID; wait $PID 2>/dev/null || true
rm -rf $D
