#!/usr/bin/env bash
# Tools the monitoring tests use (tests/monitoring), installed only when missing; idempotent.
#   Debian: prometheus (prometheus, promtool), prometheus-alertmanager (alertmanager, amtool),
#           chromium (the status-page browser test), nodejs + npm (Grafana schema check)
#   npm:    deploy/monitoring/grafana/package.json pins (typescript, @grafana/schema), project-local
# Python packages (playwright, grafana-foundation-sdk) come from pyproject's dev extra.
# Never runs `playwright install`: the tests drive Debian's /usr/bin/chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v amtool >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
  if [ "$(id -u)" != 0 ]; then
    echo "missing ${need[*]}: run as root or 'sudo apt-get install -y ${need[*]}'" >&2
    exit 1
  fi
  echo "installing ${need[*]} from Debian" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

grafana=deploy/monitoring/grafana
if [ ! -x "$grafana/node_modules/typescript/bin/tsc" ] || [ ! -f "$grafana/node_modules/@grafana/schema/package.json" ] \
  || [ "$grafana/package-lock.json" -nt "$grafana/node_modules/.package-lock.json" ]; then
  echo "installing the Grafana schema check's npm packages into $grafana/node_modules" >&2
  (cd "$grafana" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
fi
