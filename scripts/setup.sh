#!/usr/bin/env bash
# One-shot, idempotent set-up for vigil on Debian 12: system packages, the ONNX Runtime
# shared library (from the PyPI wheel; no other download site is reachable here) and the
# third-party detector weights (verified against models/MANIFEST.sha256).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

ORT_VERSION=1.32.0
# clang + libclang-dev: ffmpeg-sys-next generates its bindings with bindgen at build time. (OpenCV
# is no longer needed: only the optional `opencv` feature of the falling bench uses it.)
APT_PKGS=(pkg-config clang libclang-dev libavcodec-dev libavformat-dev libavutil-dev
  libswscale-dev libswresample-dev libavfilter-dev libavdevice-dev ffmpeg)
# `--test` adds what the test suite needs: a real RTSP server (GStreamer's, driven from
# Debian's python3-gi; live555 is not packaged in bookworm).
if [ "${1:-}" = "--test" ]; then
  APT_PKGS+=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-base)
  # A real MQTT broker for tests/mqtt.rs (started there on a free loopback port).
  APT_PKGS+=(mosquitto)
  # Console browser tests: Debian's Chromium (never a downloaded browser build) and a CJK font
  # so Chinese renders in screenshots.
  APT_PKGS+=(chromium chromium-driver fonts-wqy-microhei)
fi

log() { printf '[setup] %s\n' "$*" >&2; }

# --- Debian packages (only the missing ones) ---
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "Debian packages: all present"
fi

# --- ONNX Runtime shared library from the onnxruntime wheel ---
ORT_DIR="$ROOT/.ort"
if [ ! -f "$ORT_DIR/libonnxruntime.so.$ORT_VERSION" ]; then
  log "fetching onnxruntime==$ORT_VERSION wheel from PyPI (library only)"
  mkdir -p "$ORT_DIR/wheel"
  python3 -m pip download -q --no-deps --only-binary=:all: "onnxruntime==$ORT_VERSION" -d "$ORT_DIR/wheel"
  whl=$(ls "$ORT_DIR"/wheel/onnxruntime-"$ORT_VERSION"-*.whl | head -n1)
  python3 - "$whl" "$ORT_DIR" <<'PY'
import sys, zipfile, os, shutil
whl, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z:
    names = [n for n in z.namelist() if os.path.basename(n).startswith("libonnxruntime.so")]
    if not names:
        sys.exit(f"no libonnxruntime.so in {whl}")
    for n in names:
        with z.open(n) as src, open(os.path.join(out, os.path.basename(n)), "wb") as dst:
            shutil.copyfileobj(src, dst)
PY
  rm -rf "$ORT_DIR/wheel"
fi
ln -sf "libonnxruntime.so.$ORT_VERSION" "$ORT_DIR/libonnxruntime.so"
log "ONNX Runtime: $ORT_DIR/libonnxruntime.so.$ORT_VERSION"

# --- console browser tests: playwright-core only (it drives /usr/bin/chromium) ---
if [ "${1:-}" = "--test" ]; then
  if command -v npm >/dev/null 2>&1; then
    lock=tests/console/package-lock.json
    stamp=tests/console/node_modules/.vigil-lock
    if [ ! -f "$stamp" ] || ! cmp -s "$lock" "$stamp"; then
      log "npm ci in tests/console (playwright-core)"
      npm ci --prefix tests/console --no-audit --no-fund --loglevel=error
      cp "$lock" "$stamp"
    else
      log "tests/console/node_modules: up to date"
    fi
  else
    log "npm not found: the console browser tests will be skipped"
  fi
fi

# --- Python reference tools for the detector tests (onnxruntime reference decode, ONNX
# builders for layout tests, the trajectory model's numpy training script) ---
if [ "${1:-}" = "--test" ]; then
  if ! python3 -c "import onnxruntime, numpy, PIL, onnx" 2>/dev/null; then
    log "pip install onnxruntime==$ORT_VERSION numpy pillow onnx"
    python3 -m pip install -q --disable-pip-version-check "onnxruntime==$ORT_VERSION" numpy pillow onnx
  else
    log "Python test tools: present"
  fi
fi

# --- third-party model weights ---
bash scripts/fetch-models.sh
