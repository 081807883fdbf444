#!/usr/bin/env python3
# Per-stage diagnosis of missed drops (issue 11, EVAL.md "session 6"): for every drop of a
# `vigil eval falling --keep-videos --out DIR` run that no event matched, how many visible frames
# had a blob near it, and which tracks near its path ended with which physics reason.
# Usage: scripts/falling_miss_diag.py path/to/vigil DIR [clip ...]
import json, re, subprocess, sys, os, math
# usage: diag.py VIGIL DIR [clip...]; diagnoses missed drops per stage
vig, d = sys.argv[1], sys.argv[2]
clips = sys.argv[3:] or sorted(f[:-11] for f in os.listdir(d) if f.endswith('.truth.json') and not f.startswith('distr'))
ansi = re.compile(r'\x1b\[[0-9;]*m')
tot = {}
for c in clips:
    if not os.path.exists(f'{d}/{c}.mp4'): continue
    truth = json.load(open(f'{d}/{c}.truth.json'))
    env = dict(os.environ, NO_COLOR='1', VIGIL_LOG='vigil::falling::blobs=trace,vigil::analytics::falling=debug')
    p = subprocess.run([vig, 'analyze', '--config', f'{d}/{c}.toml', f'{d}/{c}.mp4'], capture_output=True, text=True, env=env)
    events = [json.loads(l) for l in p.stdout.splitlines() if l.startswith('{')]
    blobs = {}; ended = []; glob = []
    for l in p.stderr.splitlines():
        l = ansi.sub('', l)
        m = re.search(r' t=([0-9.e-]+).*blobs=\[(.*)\]', l)
        if 'vigil::falling::blobs' in l and m:
            t = float(m.group(1))
            blobs[round(t, 3)] = [tuple(float(v) for v in b.split(',')[:3]) for b in re.findall(r'\(([^)]*)\)', m.group(2))]
        elif 'track ended without alarm' in l:
            f = re.search(r'from=\(([^)]*)\)', l); to = re.search(r'to=\(([^)]*)\)', l); ph = re.search(r'physics="([^"]*)"', l); pm = re.search(r'p_model=(\S+)', l); n = re.search(r' n=(\d+)', l)
            ended.append((tuple(map(float, f.group(1).split(','))), tuple(map(float, to.group(1).split(','))), ph.group(1) if ph else '?', pm.group(1) if pm else '?', int(n.group(1))))
        elif 'global change' in l:
            m = re.search(r' t=([0-9.e-]+)', l); glob.append(float(m.group(1)) if m else -1)
    for dr in truth['drops']:
        # detected?
        traj = [p for p in dr['trajectory']]
        if not traj: continue
        det = None
        for e in events:
            tr = e.get('trajectory') or []
            close = sum(1 for (t, x, y) in tr for (tt, xx, yy) in traj[:] if abs(t - tt) < 0.02 and math.hypot(x - xx, y - yy) < max(30, dr['size_px']))
            if close >= 2: det = e['id']
        r = max(6.0, dr['size_px'] * 0.8)
        hits = 0; nvis = 0
        for (t, x, y) in traj:
            key = min(blobs.keys(), key=lambda k: abs(k - t)) if blobs else None
            if key is None or abs(key - t) > 0.02: continue
            nvis += 1
            if any(math.hypot(bx - x, by - y) < r for (bx, by, a) in blobs[key]): hits += 1
        trk = []
        for (a, b, ph, pm, n) in ended:
            near = [p for p in traj if abs(p[0] - a[0]) < 0.03 and math.hypot(p[1] - a[1], p[2] - a[2]) < r * 2 + 10]
            if near: trk.append(f'{ph}|p={pm}|n={n}')
        st = 'OK' if det else ('no-fg' if hits < 3 else ('fg-no-track' if not trk else 'rejected'))
        tot[st] = tot.get(st, 0) + 1
        if dr['size_px'] >= 5:
            tot['>=5 ' + st] = tot.get('>=5 ' + st, 0) + 1
        print(f"{c} {dr['object']:10s} {dr['size_px']:5.1f}px fl{dr['floor']} c{dr['contrast']:+4.0f} vis{dr['last_visible_s']-dr['first_visible_s']:.2f}s fg {hits}/{nvis} {st} {trk[:3]} glob={len(glob)}")
print(tot)
