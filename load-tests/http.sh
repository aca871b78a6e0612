#!/usr/bin/env bash
# Authenticated HTTP reads per server CPU-second with wrk (apt install wrk): the server
# (pinned to CPU 0, demo data, CFLOWS_DEMO_PASSWORD="load test password") on :8080;
# wrk runs on CPU 1 with 32 connections for 8 s per path.
set -euo pipefail
curl -s -c /tmp/cj -H 'content-type: application/json' -d '{"email":"admin@demo-motors.example","password":"load test password"}' http://127.0.0.1:8080/api/v1/session > /dev/null
COOKIE=$(grep -o 'cflows_session\s.*' /tmp/cj | awk '{print $1"="$2}')
PID=$(pgrep -x cflows)
cpu() { awk '{print $14+$15}' /proc/$PID/stat; }
for path in /healthz /api/v1/teams /api/v1/me /staff/teams /boards; do
  b=$(cpu); out=$(taskset -c 1 wrk -t1 -c32 -d8s -H "Cookie: $COOKIE" http://127.0.0.1:8080$path 2>&1); a=$(cpu)
  req=$(echo "$out" | grep -E "^\s+[0-9]+ requests" | awk '{print $1}')
  echo "$path: $req requests, server CPU $(echo "($a-$b)/100" | bc -l | cut -c1-5) s, $(echo "$req/(($a-$b)/100)" | bc -l | cut -d. -f1) per server CPU-second; $(echo "$out" | grep -E "Non-2xx" || echo "all 2xx"); latency $(echo "$out" | grep Latency | awk '{print $2, "avg,", $4, "max"}')"
done
