#!/usr/bin/env bash
# Stop the moto server started by infra/local/up.sh: the one in $MOTO_PID
# (exported by up.sh) when set, else the last one started from this checkout.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
pidfile="$root/.triage/moto/moto.pid"
pid="${MOTO_PID:-}"
if [ -z "$pid" ] && [ -f "$pidfile" ]; then
  pid="$(cat "$pidfile")"
fi
if [ -n "$pid" ]; then
  kill "$pid" 2>/dev/null || true
  if [ -f "$pidfile" ] && [ "$(cat "$pidfile")" = "$pid" ]; then
    rm -f "$pidfile"
  fi
fi
