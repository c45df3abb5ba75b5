#!/usr/bin/env bash
# What the security tests need beyond the Python packages of pyproject (boto3, moto[server]):
# nothing system-wide. This checks that moto's server is installed in the venv and starts on
# 127.0.0.1, and installs the pinned packages into the venv only when they are missing. Idempotent.
set -euo pipefail
VENV="${VENV:-.venv}"
PY="$VENV/bin/python"
if [ ! -x "$PY" ]; then
  echo "no virtualenv at $VENV: run 'make setup' first" >&2
  exit 1
fi
if ! "$PY" -c "import boto3, moto.server" >/dev/null 2>&1 || [ ! -x "$VENV/bin/moto_server" ]; then
  echo "installing boto3 and moto[server] into $VENV (normally pulled in by pyproject's dev extra)" >&2
  "$PY" -m pip install --quiet "boto3==1.44.8" "moto[server]==5.2.5"
fi
port="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if "$PY" -c "import socket, sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 0.2).close()" "$port" 2>/dev/null; then
    echo "moto_server ok on 127.0.0.1:$port" >&2
    exit 0
  fi
  sleep 0.1
done
echo "moto_server did not start on 127.0.0.1:$port" >&2
exit 1
