#!/usr/bin/env bash
# Start moto (a real AWS-API server) on a free loopback port, create the
# queue, DLQ, tables and secrets the stack creates, and print `export` lines:
#
#   eval "$(infra/local/up.sh)"      # then cargo test / triage / cargo lambda watch
#   infra/local/down.sh              # stop it
#
# moto is installed into .venv at the repository root on first use.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$root/.venv"
state="$root/.triage/moto"
mkdir -p "$state"

if [ ! -x "$venv/bin/moto_server" ]; then
  echo "installing moto[server] into $venv ..." >&2
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]>=5,<6' >&2
fi

port="$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$state/moto.log" 2>&1 &
echo $! >"$state/moto.pid"

for _ in $(seq 1 100); do
  if "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/')" 2>/dev/null; then
    break
  fi
  sleep 0.1
done

export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing

# Resources with the names and settings of template.yaml.
"$venv/bin/python" "$root/infra/local/create_resources.py" >"$state/exports"

cat <<OUT
export AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export MOTO_PID=$(cat "$state/moto.pid")
OUT
cat "$state/exports"
