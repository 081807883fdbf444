#!/usr/bin/env bash
# Run every fuzz target for a fixed time (seconds, default 60) and report what each found.
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECS=${1:-60}
status=0
for t in h264_avcc_slices range_header sealed_evidence config_toml voc_xml; do
  mkdir -p "corpus/$t"
  echo "== $t ($SECS s)"
  if cargo +nightly fuzz run -s none "$t" "corpus/$t" -- -max_total_time="$SECS" -rss_limit_mb=2048 \
      > "/tmp/fuzz-$t.log" 2>&1; then
    grep -E "^(#[0-9]+\s+DONE|Done)" "/tmp/fuzz-$t.log" | tail -n1 || true
  else
    echo "   FAILED: see /tmp/fuzz-$t.log and fuzz/artifacts/$t/"
    status=1
  fi
done
exit $status
