#!/usr/bin/env bash
# The demo: generate a tower-facade clip with thrown objects and distractors and an elevator
# clip, run vigil's analytics on them with evidence, and show the alarms.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-out/demo}
VIGIL=${VIGIL:-target/release/vigil}
mkdir -p "$OUT"
# The elevator camera uses the e-bike detector's default model, models/yolox_nano.onnx (see
# src/analytics/ebike/config.rs), which scripts/fetch-models.sh installs (part of setup).
if [ ! -f models/yolox_nano.onnx ]; then
  echo "== models/yolox_nano.onnx missing; running scripts/fetch-models.sh" >&2
  bash scripts/fetch-models.sh
fi
echo "== generating demo clips in $OUT" >&2
"$VIGIL" synth facade --seed 2 --out "$OUT" --name tower-demo --duration 12 --drops 2 --distractors birds,leaves,lights
"$VIGIL" synth elevator --seed 3 --out "$OUT" --name elevator-demo --duration 12
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
        if e.get("kind") == "ebike_in_elevator" and e.get("bbox"):
            where = f"{e.get('label')} bbox={[round(v) for v in e['bbox']]}"
        ev = e.get("evidence") or {}
        print(f"ALARM {e['kind']:<18} camera={e['camera']:<14} alarm at {e['alarm_s']:6.2f}s conf={e['confidence']:.2f} {where}")
        for k, v in ev.items():
            print(f"      {k}: {v}")
PY

# --- the node as a service: both clips paced as live cameras, alarms arriving live ---
SECONDS_TO_RUN=${DEMO_SECONDS:-60}
ADDR=${DEMO_ADDR:-127.0.0.1:8080}
CFG="$OUT/vigil.toml"
{
  printf '[node]\ndata_dir = "data"\napi_addr = "%s"\n\n' "$ADDR"
  for cam in tower-demo elevator-demo; do
    sed -n '/^\[\[camera\]\]/,$p' "$OUT/$cam.toml" | sed 's/^source = .*/&\nrealtime = true\nloop = true/'
    echo
  done
} > "$CFG"
echo "== vigil serve --config $CFG  (for ${SECONDS_TO_RUN}s; DEMO_SECONDS=0 runs until Ctrl-C)" >&2
"$VIGIL" serve --config "$CFG" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null' EXIT
for _ in $(seq 50); do
  [ -f "$OUT/data/initial-admin-password" ] && curl -fs "http://$ADDR/api/v1/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
PW=$(cat "$OUT/data/initial-admin-password" 2>/dev/null || echo "(see earlier runs: $OUT/data/initial-admin-password)")
echo "== console: http://$ADDR/   user: admin   password: $PW" >&2
TOKEN=$(curl -fs -H 'content-type: application/json' -d "{\"name\":\"admin\",\"password\":\"$PW\"}" \
  "http://$ADDR/api/v1/auth/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])' || true)
if [ -n "$TOKEN" ]; then
  echo "== live alarms from /api/v1/events/stream:" >&2
  if [ "$SECONDS_TO_RUN" = 0 ]; then T=(); else T=(timeout "$SECONDS_TO_RUN"); fi
  "${T[@]}" curl -fsN "http://$ADDR/api/v1/events/stream?access_token=$TOKEN" 2>/dev/null \
    | python3 -u -c '
import json, sys
for line in sys.stdin:
    if line.startswith("data:"):
        try:
            n = json.loads(line[5:])
        except ValueError:
            continue
        e = n.get("event", {})
        o = e.get("origin") or {}
        floor = o.get("floor")
        fl = " floor %s" % floor if floor is not None else ""
        print("[%6s] #%s %s camera=%s alarm_s=%.2f%s" % (n.get("phase"), e.get("id"), e.get("kind"),
              e.get("camera"), e.get("alarm_s") or 0.0, fl), flush=True)
' || true
else
  echo "== could not log in; is $ADDR free? (set DEMO_ADDR)" >&2
  sleep "$SECONDS_TO_RUN"
fi
