#!/usr/bin/env bash
# The one command that runs every test (README, "Run all tests").
#
#   infra/test.sh
#
# On a fresh machine it installs what the tests need into .venv (moto, cfn-lint)
# and .venv-sam (the SAM CLI),
# starts moto on a free loopback port (tests that talk to SQS, DynamoDB or
# Secrets Manager use it through AWS_ENDPOINT_URL), then runs formatting and
# lint checks, every Rust test in the workspace, the template lint
# (cfn-lint and sam validate --lint), and checks that events/ are up to date. Extra arguments go to `cargo test`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

venv="$root/.venv"
if [ ! -x "$venv/bin/moto_server" ] || [ ! -x "$venv/bin/cfn-lint" ]; then
  echo "==> installing test tools into .venv (moto, cfn-lint)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]>=5,<6' 'cfn-lint>=1,<2'
fi

# The SAM CLI lives in its own venv: its pins must not fight moto's.
sam_venv="$root/.venv-sam"
if [ ! -x "$sam_venv/bin/sam" ]; then
  echo "==> installing the SAM CLI into .venv-sam"
  python3 -m venv "$sam_venv"
  "$sam_venv/bin/pip" install --quiet --disable-pip-version-check aws-sam-cli
fi

echo "==> starting moto"
eval "$(infra/local/up.sh)"
# The tests build their own queues, tables and secrets; the runners they
# start read *_ARN variables like the Lambdas do, so none leaks in from here.
unset NYLAS_WEBHOOK_SECRET_ARN NYLAS_API_KEY_ARN INBOUND_WEBHOOK_SECRETS_ARN
trap 'infra/local/down.sh' EXIT
echo "    AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL"

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "==> events/ are up to date with their generator"
tmp="$(mktemp -d)"
cp -r events "$tmp/events"
python3 events/make_events.py
if ! diff -r -q "$tmp/events" events >/dev/null; then
  diff -r -q "$tmp/events" events || true
  echo "events/ changed when regenerated: commit the output of python3 events/make_events.py" >&2
  exit 1
fi
rm -rf "$tmp"

echo "==> cfn-lint template.yaml"
"$venv/bin/cfn-lint" template.yaml

echo "==> least-privilege IAM check"
"$venv/bin/python" infra/check_iam.py

echo "==> sam validate --lint"
SAM_CLI_TELEMETRY=0 "$sam_venv/bin/sam" validate --lint --template template.yaml --region us-east-1

echo "==> cargo test --workspace"
cargo test --workspace "$@"
