#!/usr/bin/env bash
# Install mocap into ./.venv (created if missing) on a fresh Debian/Ubuntu machine.
#   scripts/install.sh          the tool itself
#   scripts/install.sh --test   also what the test suite needs (pytest, Debian's assimp and opencv-doc,
#                               Khronos' gltf-validator from npm)
# Idempotent: rerunning only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if ! "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "mocap needs Python 3.11 (bpy 5.0.1 and mediapipe 0.10.21 wheels); found $("$PY" --version)" >&2
  exit 1
fi

apt_install() {
  # System packages: only where apt exists and we may use it (root or sudo).
  command -v apt-get >/dev/null 2>&1 || { echo "note: no apt-get; install $* yourself" >&2; return 0; }
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  ((${#missing[@]})) || return 0
  local sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Shared libraries that bpy (Blender as a module) loads even when headless.
apt_install libxrender1 libxi6 libxxf86vm1 libxfixes3 libxkbcommon0 libsm6 libgl1 libegl1
if ((want_test)); then
  # assimp: an independent FBX reader for the export tests; assimp-testmodels: real CMU motion
  # capture (BVH) for the smoothing, contact, world and retargeting tests; opencv-doc: vtest.avi,
  # real footage of people walking for the detection and tracking tests.
  apt_install assimp-utils assimp-testmodels opencv-doc
  # node + npm for Khronos' glTF validator: Debian's, unless a node install (e.g. NodeSource's,
  # which bundles npm and conflicts with Debian's npm package) is already there.
  command -v npm >/dev/null 2>&1 || apt_install nodejs npm
fi

[[ -x .venv/bin/python ]] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if ((want_test)); then
  # The HMR 2.0 tests need torch: the CPU build (this machine's local wheel, or PyTorch's
  # CPU index), never a multi-GB CUDA build pulled in by a version range.
  .venv/bin/python -c "import torch" 2>/dev/null ||
    .venv/bin/python -m pip install -q torch==2.13.0 ||
    .venv/bin/python -m pip install -q torch --index-url https://download.pytorch.org/whl/cpu
  .venv/bin/python -m pip install -q -e ".[test]"
  # Khronos' glTF validator (npm), run by the glTF export tests through node.
  if command -v npm >/dev/null 2>&1; then
    [[ -d .venv/node/node_modules/gltf-validator ]] ||
      npm install --silent --prefix .venv/node gltf-validator@2.0.0-dev.3.10
  else
    echo "note: no npm; the glTF validator tests will be skipped" >&2
  fi
else
  .venv/bin/python -m pip install -q -e .
fi
echo "mocap installed in .venv ($(.venv/bin/mocap --version))" >&2
