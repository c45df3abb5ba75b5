#!/usr/bin/env bash
# The venue SDKs the signing tests use as reference signers (python-okx, pybit, coinbasepro,
# binance-connector, krakenex), in their own virtualenv: they pin libraries that could break ours,
# and nothing in tradestack imports them. Idempotent: a stamp named after the requirements' checksum
# makes a second run a no-op. The tests skip without this venv, except under CI=true, where they fail.
set -euo pipefail
cd "$(dirname "$0")/.."
SDKS="${VENV_SDKS:-.venv-sdks}"
REQUIREMENTS=tests/venues/sdk_reference/requirements.txt
PYTHON="${PYTHON:-python3}"
stamp="$SDKS/.installed-$(cksum "$REQUIREMENTS" | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ -x "$SDKS/bin/python" ]; then
  exit 0
fi
echo "installing the venue reference SDKs into $SDKS" >&2
test -x "$SDKS/bin/python" || "$PYTHON" -m venv "$SDKS"
"$SDKS/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
"$SDKS/bin/python" -c "import okx.utils, pybit._http_manager, coinbasepro.auth, binance.lib.authentication, krakenex"
rm -f "$SDKS"/.installed-* && touch "$stamp"
echo "venue reference SDKs ok in $SDKS" >&2
