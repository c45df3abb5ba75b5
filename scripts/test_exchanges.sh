#!/usr/bin/env bash
# Pre-deploy check: DNS, TCP, TLS, WebSocket, REST, clock skew and API-key permissions per venue.
# Thin wrapper over `tradestack check-exchanges`; arguments pass through. Default endpoints: the live
# overlay's exchanges.yaml.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${TRADESTACK_PYTHON:-$here/.venv/bin/python}"
[ -x "$python" ] || python=python3
args=("$@")
case " $* " in
  *" --exchanges "*) ;;
  *) args=(--exchanges "$here/deploy/k8s/overlays/live/config/exchanges.yaml" "${args[@]}") ;;
esac
exec "$python" -c 'import sys; from tradestack.ops.cli import ops_app; ops_app(["check-exchanges", *sys.argv[1:]])' "${args[@]}"
