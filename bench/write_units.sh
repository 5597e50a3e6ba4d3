#!/usr/bin/env bash
# DynamoDB request units (WRU/RRU) per processed email, through the real
# worker handler with the DynamoDB stores on a local moto:
#
#   bench/write_units.sh [N] [--remember-completed K]
#
# N notifications (default 2000) from `bench/gen_notifications.py --seed 1`,
# processed one at a time by crates/worker/examples/write_units.rs, which
# prints a markdown table of units per outcome (units computed from item
# sizes by triage_dynamodb::capacity: moto's ConsumedCapacity is a
# placeholder). The memory of completed records is off unless
# --remember-completed K is given. Starts moto (infra/local/up.sh) and stops
# it on exit; set CARGO_TARGET_DIR to build elsewhere.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
n="${1:-2000}"
shift || true

# Build before starting moto (a release build takes minutes).
cargo build --release -q -p triage-worker --example write_units

dir="$(mktemp -d "${TMPDIR:-/tmp}/write-units.XXXXXX")"
cleanup() {
  infra/local/down.sh || true
  rm -rf "$dir"
}
exports="$(infra/local/up.sh)"
eval "$exports"
trap cleanup EXIT

python3 bench/gen_notifications.py "$dir" "$n" --seed 1
cargo run --release -q -p triage-worker --example write_units -- "$dir" "$@"
