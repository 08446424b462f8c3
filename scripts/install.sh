#!/usr/bin/env bash
# Installs vton and what it needs into the current Python environment.
#   bash scripts/install.sh          runtime only (the app and the CLI)
#   bash scripts/install.sh --test   also the test tools and Debian's chromium for the browser test
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
PIP="$PY -m pip install --disable-pip-version-check -q"

# torch is pinned in requirements.txt and passed as a constraint, so nothing here can pull a CUDA build.
$PIP -r requirements.txt
# controlnet-aux's own dependencies pull torchvision/timm; the OpenPose body estimator needs none of them.
$PIP --no-deps controlnet-aux==0.0.10 -c requirements.txt
$PIP --no-deps --no-build-isolation -e .

if [[ "${1:-}" == "--test" ]]; then
  $PIP -r requirements-test.txt -c requirements.txt
  if [[ ! -x /usr/bin/chromium ]]; then
    SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    $SUDO apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium >/dev/null
  fi
fi
