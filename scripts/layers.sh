#!/usr/bin/env bash
# Prints each top-level module's `crate::` imports with its layer (ARCHITECTURE.md) and fails on
# an import cycle or an upward import. Needs only rustc (no cargo build of vigil); the same check
# runs in the test suite as `cargo test --test layers`.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${TMPDIR:-/tmp}/vigil-layers-$$"
rustc --edition 2021 --test -O tests/layers.rs -o "$out" 2>&1
trap 'rm -f "$out"' EXIT
"$out" --nocapture --test-threads 1
