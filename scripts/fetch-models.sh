#!/usr/bin/env bash
# Places third-party detector weights in models/ and verifies them against models/MANIFEST.sha256.
# Sources, in order: $VIGIL_MODELS_SRC, ../shared/models/, the shared/models/ beside the local
# repository this checkout was cloned from (a CI clone elsewhere), the upstream release URL.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[models] %s\n' "$*" >&2; }
declare -A URL=(
  [yolox_nano.onnx]="https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0/yolox_nano.onnx"
  [nanodet_m_416.onnx]="https://github.com/Kazuhito00/NanoDet-ONNX-Sample/raw/main/model/nanodet_m_416.onnx"
)
# A clone of a local repository (e.g. CI cloning into /tmp) finds shared/ beside its origin.
ORIGIN_SHARED=""
origin=$(git config --get remote.origin.url 2>/dev/null || true)
if [ -n "$origin" ] && [ -d "$origin" ]; then
  ORIGIN_SHARED="$(cd "$origin" && pwd)/../shared/models"
fi
fail=0
while read -r sum name; do
  [ -z "${sum:-}" ] && continue
  case "$sum" in \#*) continue;; esac
  dst="models/$name"
  if [ -f "$dst" ] && echo "$sum  $dst" | sha256sum -c --status; then
    log "$name: present, checksum ok"; continue
  fi
  got=""
  for dir in "${VIGIL_MODELS_SRC:-}" "../shared/models" "$ORIGIN_SHARED"; do
    [ -n "$dir" ] && [ -f "$dir/$name" ] || continue
    if echo "$sum  $dir/$name" | sha256sum -c --status; then
      install -m 644 "$dir/$name" "$dst"; got="$dir"; break
    else
      log "$name: $dir/$name has the wrong SHA-256, skipped"
    fi
  done
  if [ -z "$got" ] && [ -n "${URL[$name]:-}" ]; then
    if curl -fsSL --max-time 60 -o "$dst.part" "${URL[$name]}" 2>/dev/null \
       && echo "$sum  $dst.part" | sha256sum -c --status; then
      mv "$dst.part" "$dst"; got="${URL[$name]}"
    else
      rm -f "$dst.part"
    fi
  fi
  if [ -n "$got" ]; then log "$name: copied from $got, checksum ok"
  else
    log "$name: NOT FOUND. Tried \$VIGIL_MODELS_SRC (${VIGIL_MODELS_SRC:-unset}), ../shared/models/, ${ORIGIN_SHARED:-no local origin}, ${URL[$name]:-no upstream URL}"
    fail=1
  fi
done < models/MANIFEST.sha256
exit $fail
