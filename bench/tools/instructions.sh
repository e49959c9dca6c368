#!/usr/bin/env bash
# Instructions per request of an HTTP server, counted by valgrind's callgrind: repeatable to about ±0.2 % on this
# shared machine, where wall-time ratios move by several percent between runs. Use it to tell 1-3 % changes apart
# (A/B two worktrees); the benchmark ratios in bench/ remain the measure that counts.
#
#   bench/tools/instructions.sh PORT PATH BODY_LUA -- deno run -A main.ts receiver httpbroker --port 127.0.0.1:PORT ...
#
# BODY_LUA is a wrk script (e.g. one that cycles through request bodies). The server runs under callgrind with
# instrumentation off through start-up and a warm-up (WARM seconds, default 15, so the JIT settles), then on for DUR
# seconds (default 10) of wrk load at 8 connections; prints total instructions / requests served while counting.
# Counts user space only (not the kernel) and all threads. Needs: apt-get install valgrind wrk.
set -euo pipefail
PORT=$1 URLPATH=$2 LUA=$3
shift 4
OUT=$(mktemp -d)
valgrind --tool=callgrind --instr-atstart=no --smc-check=all-non-file --callgrind-out-file="$OUT/cg.%p" "$@" \
  >"$OUT/server.log" 2>&1 &
VPID=$!
trap 'kill $VPID 2>/dev/null || true; rm -rf "$OUT"' EXIT
# Wait until it is ready, not merely listening: the services open their port first and start behind it.
for _ in $(seq 180); do
  curl -sf -m 2 -o /dev/null "http://127.0.0.1:$PORT${READY_PATH:-/ready}" && break
  sleep 1
done
wrk -t1 -c8 -d"${WARM:-15}s" -s "$LUA" "http://127.0.0.1:$PORT$URLPATH" >/dev/null
callgrind_control -i on $VPID >/dev/null
wrk -t1 -c8 -d"${DUR:-10}s" -s "$LUA" "http://127.0.0.1:$PORT$URLPATH" >"$OUT/wrk.txt"
callgrind_control -d $VPID >/dev/null
sleep 1
kill $VPID
wait $VPID 2>/dev/null || true
REQ=$(awk '/requests in/ {print $1}' "$OUT/wrk.txt")
IR=$(cat "$OUT"/cg.* | awk '/^summary:/ {s += $2} END {printf "%d", s}')
echo "requests $REQ  instructions $IR  per request $((IR / REQ))"
