#!/usr/bin/env bash
# Installs the system tools the tests use when they are missing (Debian packages; root on CI).
set -euo pipefail
need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing ${need[*]}: run as root or 'sudo apt-get install -y ${need[*]}'" >&2
    exit 1
  fi
  echo "installing ${need[*]} from Debian" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
bash "$(dirname "$0")/test-deps-monitoring.sh"
bash "$(dirname "$0")/test-deps-security.sh"
bash "$(dirname "$0")/test-deps-venues.sh"
bash "$(dirname "$0")/test-deps-deploy.sh"
