#!/usr/bin/env bash
# The demo: generate a tower-facade clip with thrown objects and distractors and an elevator
# clip, run vigil's analytics on them with evidence, and show the alarms.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-out/demo}
VIGIL=${VIGIL:-target/release/vigil}
mkdir -p "$OUT"
echo "== generating demo clips in $OUT" >&2
"$VIGIL" synth facade --seed 7 --out "$OUT" --name tower-demo --duration 12 --drops 2 --distractors birds,leaves,lights
"$VIGIL" synth elevator --seed 3 --out "$OUT" --name elevator-demo --duration 12 --ebike
for cam in tower-demo elevator-demo; do
  echo "== vigil analyze $OUT/$cam.mp4" >&2
  "$VIGIL" analyze "$OUT/$cam.mp4" --config "$OUT/$cam.toml" --evidence-dir "$OUT/evidence" | tee "$OUT/$cam.events.jsonl"
  n=$(wc -l < "$OUT/$cam.events.jsonl")
  echo "== $cam: $n alarm event(s); evidence under $OUT/evidence/" >&2
done
python3 - "$OUT" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
for f in sorted(out.glob("*.events.jsonl")):
    for line in f.read_text().splitlines():
        e = json.loads(line)
        where = ""
        if e.get("origin"):
            o = e["origin"]
            where = f"origin px=({o['x']:.0f},{o['y']:.0f})" + (f" floor {o['floor']} ({o['height_m']:.1f} m)" if "floor" in o else "")
        if e.get("bbox"):
            where = f"{e.get('label')} bbox={[round(v) for v in e['bbox']]}"
        ev = e.get("evidence") or {}
        print(f"ALARM {e['kind']:<18} camera={e['camera']:<14} alarm at {e['alarm_s']:6.2f}s conf={e['confidence']:.2f} {where}")
        for k, v in ev.items():
            print(f"      {k}: {v}")
PY
