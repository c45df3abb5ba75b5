#!/usr/bin/env bash
# Pre-deploy check: kernel and NIC tuning of this host (or of a node: --root /host in a debug pod).
# Thin wrapper over `tradestack latency-audit`; arguments pass through (--json, --strict, --root).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${TRADESTACK_PYTHON:-$here/.venv/bin/python}"
[ -x "$python" ] || python=python3
exec "$python" -c 'import sys; from tradestack.ops.cli import ops_app; sys.argv[0] = "latency-audit"; ops_app(["latency-audit", *sys.argv[1:]])' "$@"
