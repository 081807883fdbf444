#!/usr/bin/env python3
"""Train the falling-object trajectory classifier and export models/trajectory.onnx.

Reproducible (fixed seed), numpy only (no torch), ~1 minute on one CPU core:

    pip install numpy onnx
    python3 models/trajectory/train.py            # writes models/trajectory.onnx + metrics.json

Data: physically simulated tracks as the vigil tracker would report them (25 fps, detection
noise, missed frames, partial visibility) under randomised camera geometry (a camera on the
ground looking up at a facade: distance, tilt, focal length, roll), for six classes:
falling object (gravity + quadratic drag, optional small outward throw), bird (flapping /
gliding flight, turns, dives), rain (terminal-velocity straight streaks), leaf (slow
fluttering descent), insect (erratic near-lens flight), other (lights flicker in place,
laundry swinging, people on balconies, constant-velocity movers, camera jitter).

The features MUST match `features()` in src/analytics/falling/classifier.rs.
"""
import json
import os
import sys

import numpy as np

N_SAMPLES = 16
N_FEATURES = 2 * N_SAMPLES + 8
CLASSES = ["falling", "bird", "rain", "leaf", "insect", "other"]
FPS = 25.0
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "trajectory.onnx")


# ---------------------------------------------------------------- camera geometry
class Camera:
    """Pinhole camera on the ground at distance d from the facade, pitched up by `tilt`."""

    def __init__(self, rng):
        self.W, self.H = 1280.0, 720.0
        if rng.random() < 0.3:
            self.W, self.H = 640.0, 480.0
        self.f = self.W * rng.uniform(0.45, 1.4)
        self.d = rng.uniform(8.0, 60.0)  # metres from facade
        self.cam_h = rng.uniform(0.5, 6.0)
        self.tilt = np.deg2rad(rng.uniform(10.0, 60.0))
        self.roll = np.deg2rad(rng.normal(0.0, 2.0))
        self.x_c = rng.uniform(-5.0, 5.0)

    def project(self, X, Hm, Z=0.0):
        """Facade point (X along, Hm up, Z out of the facade towards the camera) -> pixels."""
        # camera coords: x right, y down, z forward (towards the facade, pitched up)
        dx = X - self.x_c
        dy = Hm - self.cam_h
        dz = self.d - Z
        ct, st = np.cos(self.tilt), np.sin(self.tilt)
        zc = dz * ct + dy * st
        yc = -(dy * ct - dz * st)
        zc = np.maximum(zc, 0.1)
        u = self.f * dx / zc
        v = self.f * yc / zc
        cr, sr = np.cos(self.roll), np.sin(self.roll)
        u, v = u * cr - v * sr, u * sr + v * cr
        return u + self.W / 2, v + self.H / 2


# ---------------------------------------------------------------- world trajectories (metres)
def sim_falling(rng, t):
    h0 = rng.uniform(4.0, 90.0)
    x0 = rng.uniform(-15, 15)
    # drag 1/m: none, light, heavy (terminal ≈5 m/s), and bags/paper/cardboard (≈1.8–5 m/s)
    k = rng.choice([0.0, rng.uniform(0.0, 0.05), rng.uniform(0.05, 0.4), rng.uniform(0.4, 3.0)])
    vx = rng.normal(0, 0.8)
    vz = abs(rng.normal(0, 1.0)) if rng.random() < 0.5 else 0.0  # outward throw
    vy = rng.choice([0.0, rng.uniform(-2.0, 2.0)])  # thrown up/down a bit
    g = 9.81
    vt = min(np.sqrt(g / k), 1e3) if k > 0 else 1e3  # terminal speed
    t_apex = 0.0
    if vy > 0:  # thrown up: rises (drag ignored) to an apex, then falls from rest
        h0 = h0 + vy * vy / (2 * g)
        t_apex = vy / g
        c = 0.0
    else:
        c = np.arctanh(min(-vy / vt, 0.95))
    tf = np.maximum(t - t_apex, 0.0)
    # quadratic drag, closed form: h = h0 - vt²/g · ln(cosh(g t/vt + c) / cosh(c))
    H = h0 - (vt * vt / g) * (np.log(np.cosh(g * tf / vt + c)) - np.log(np.cosh(c)))
    if vy > 0:
        H = np.where(t < t_apex, h0 - 0.5 * g * (t_apex - t) ** 2, H)
    X = x0 + vx * t
    if k > 0.4:  # light objects flutter sideways a little as they tumble
        X = X + rng.uniform(0.0, 0.4) * np.sin(2 * np.pi * rng.uniform(0.5, 2.0) * t + rng.uniform(0, 6))
    Z = vz * t * np.exp(-0.1 * t)
    return X, H, Z, H > 0


def sim_bird(rng, t):
    speed = rng.uniform(4, 18)
    ang = rng.uniform(-np.pi, np.pi)
    h0 = rng.uniform(3, 80)
    x0 = rng.uniform(-20, 20)
    turn = rng.normal(0, 0.6)
    flap_a = rng.uniform(0.0, 0.6)
    flap_f = rng.uniform(2, 8)
    dive = rng.random() < 0.25
    heading = ang + turn * t
    vx = speed * np.cos(heading)
    vy = speed * np.sin(heading) * (0.4 if not dive else 1.0)
    if dive:
        vy = -abs(vy) - rng.uniform(1, 6)  # descending glide (no gravity-like speed-up)
    X = x0 + np.cumsum(vx) / FPS
    H = h0 + np.cumsum(vy) / FPS + flap_a * np.sin(2 * np.pi * flap_f * t)
    Z = rng.uniform(-2, 15) + 0 * t
    return X, H, Z, np.ones_like(t, bool)


def sim_rain(rng, t):
    v = rng.uniform(4, 10)
    wind = rng.normal(0, 1.5)
    h0 = rng.uniform(10, 90)
    X = rng.uniform(-20, 20) + wind * t
    H = h0 - v * t
    Z = rng.uniform(0, 30) + 0 * t
    return X, H, Z, np.ones_like(t, bool)


def sim_leaf(rng, t):
    if rng.random() < 0.5:
        # Pendulum-like "falling leaf": side-to-side swings, sinking fastest at the bottom
        # of each swing, so the first half-swing looks like a fall speeding up.
        period = rng.uniform(0.8, 2.5)
        amp = rng.uniform(0.3, 1.5)
        v0 = rng.uniform(0.8, 3.0)
        ph = rng.uniform(0, 2 * np.pi)
        w = 2 * np.pi / period
        h0 = rng.uniform(3, 60)
        X = rng.uniform(-15, 15) + rng.normal(0, 0.5) * t + amp * np.sin(w * t + ph)
        v = v0 * (0.3 + 1.4 * np.cos(w * t + ph) ** 2)
        H = h0 - np.cumsum(v) / FPS
        Z = rng.uniform(0, 10) + 0 * t
        return X, H, Z, H > 0
    v = rng.uniform(0.4, 2.5)
    amp = rng.uniform(0.2, 2.0)
    f = rng.uniform(0.3, 2.0)
    drift = rng.normal(0, 1.0)
    h0 = rng.uniform(3, 40)
    X = rng.uniform(-15, 15) + drift * t + amp * np.sin(2 * np.pi * f * t + rng.uniform(0, 6))
    H = h0 - v * t + 0.3 * amp * np.sin(4 * np.pi * f * t)
    Z = rng.uniform(0, 10) + 0 * t
    return X, H, Z, H > 0


def sim_insect(rng, t):
    # near the lens: large erratic image motion; modelled directly in pixels later
    return None


def sim_other(rng, t, cam):
    kind = rng.integers(0, 5)
    n = len(t)
    if kind == 0:  # light flicker / static blob with jitter
        X = np.full(n, rng.uniform(-15, 15))
        H = np.full(n, rng.uniform(2, 80))
        H = H + rng.normal(0, 0.05, n)
    elif kind == 1:  # laundry swinging
        X = rng.uniform(-15, 15) + rng.uniform(0.1, 0.8) * np.sin(2 * np.pi * rng.uniform(0.3, 1.5) * t)
        H = rng.uniform(3, 80) + rng.uniform(0.05, 0.5) * np.sin(2 * np.pi * rng.uniform(0.3, 2) * t)
    elif kind == 2:  # constant-velocity mover in any direction (people, cars far, planes)
        a = rng.uniform(-np.pi, np.pi)
        s = rng.uniform(0.3, 6)
        X = rng.uniform(-15, 15) + s * np.cos(a) * t
        H = rng.uniform(2, 80) + s * np.sin(a) * t
    elif kind == 3:  # something going up and falling back slowly (balloon, bag)
        X = rng.uniform(-15, 15) + rng.normal(0, 1) * t
        H = rng.uniform(3, 60) + rng.uniform(-1.5, 1.5) * t + rng.uniform(-0.5, 0.5) * t * t
    else:  # camera jitter: a feature oscillating a few px
        X = np.full(n, rng.uniform(-15, 15))
        H = np.full(n, rng.uniform(2, 80))
    Z = np.zeros(n)
    return X, H, Z, np.ones(n, bool)


# ---------------------------------------------------------------- tracker-like observations
def observe(rng, cls):
    cam = Camera(rng)
    dur = rng.uniform(0.25, 3.0)
    t_full = np.arange(0, 4.0, 1.0 / FPS)
    if cls == 0:
        X, H, Z, ok = sim_falling(rng, t_full)
    elif cls == 1:
        X, H, Z, ok = sim_bird(rng, t_full)
    elif cls == 2:
        X, H, Z, ok = sim_rain(rng, t_full)
        dur = rng.uniform(0.2, 1.2)
    elif cls == 3:
        X, H, Z, ok = sim_leaf(rng, t_full)
    elif cls == 4:
        # erratic pixel-space random walk with momentum
        n = len(t_full)
        v = np.zeros((n, 2))
        vv = rng.normal(0, 80, 2)
        for i in range(n):
            vv = 0.85 * vv + rng.normal(0, 120, 2)
            v[i] = vv
        p = np.cumsum(v, axis=0) / FPS + [rng.uniform(0, cam.W), rng.uniform(0, cam.H)]
        u, w = p[:, 0], p[:, 1]
        ok = np.ones(n, bool)
        area = rng.uniform(10, 300)
        return finish(rng, t_full, u, w, ok, cam, dur, area)
    else:
        X, H, Z, ok = sim_other(rng, t_full, cam)
    u, w = cam.project(X, H, Z)
    area = rng.uniform(2, 400) if cls != 2 else rng.uniform(2, 30)
    if cls == 5 and rng.random() < 0.2:
        u = u + rng.normal(0, 2.0, len(u))
        w = w + rng.normal(0, 2.0, len(w))
    return finish(rng, t_full, u, w, ok, cam, dur, area)


def finish(rng, t, u, w, ok, cam, dur, area):
    inside = ok & (u >= 0) & (u < cam.W) & (w >= 0) & (w < cam.H)
    idx = np.nonzero(inside)[0]
    if len(idx) < 4:
        return None
    # the track starts somewhere in the visible part (late detection / partly hidden start)
    start = idx[0] + int(rng.integers(0, max(1, min(10, len(idx) // 3))))
    n_len = max(4, int(dur * FPS))
    sel = [i for i in range(start, min(len(t), start + n_len)) if inside[i]]
    if len(sel) < 4:
        return None
    sel = np.array(sel)
    # missed detections
    keep = rng.random(len(sel)) > rng.uniform(0.0, 0.3)
    keep[0] = keep[-1] = True
    sel = sel[keep]
    if len(sel) < 4:
        return None
    noise = rng.uniform(0.2, 1.5)
    ts = t[sel]
    xs = u[sel] + rng.normal(0, noise, len(sel))
    ys = w[sel] + rng.normal(0, noise, len(sel))
    areas = np.maximum(1.0, area * np.exp(rng.normal(0, 0.3, len(sel))))
    return ts, xs, ys, areas, cam.H


# ---------------------------------------------------------------- features (mirror of Rust)
def fit_quad(ts, vs):
    u = ts - ts[0]
    A = np.stack([np.ones_like(u), u, u * u], 1)
    try:
        c, *_ = np.linalg.lstsq(A, vs, rcond=None)
    except np.linalg.LinAlgError:
        return None
    rms = np.sqrt(np.mean((A @ c - vs) ** 2))
    return c, rms


def features(ts, xs, ys, areas, frame_h):
    n = len(ts)
    if n < 3:
        return None
    dur = ts[-1] - ts[0]
    if dur <= 0:
        return None
    x0, y0 = xs[0], ys[0]
    s = max(xs.max() - xs.min(), ys.max() - ys.min(), 1.0)
    tq = ts[0] + dur * np.arange(N_SAMPLES) / (N_SAMPLES - 1)
    xi = np.interp(tq, ts, xs)
    yi = np.interp(tq, ts, ys)
    f = np.zeros(N_FEATURES, np.float32)
    f[0:2 * N_SAMPLES:2] = (xi - x0) / s
    f[1:2 * N_SAMPLES:2] = (yi - y0) / s
    q = fit_quad(ts, ys) if n >= 4 else None
    if q is None:
        rms, curv = 1.0, 0.0
    else:
        c, r = q
        rms, curv = r / s, 2 * c[2] * dur * dur / s
    b = 2 * N_SAMPLES
    f[b] = min(dur, 5.0) / 2.0
    f[b + 1] = np.log(max(s / frame_h, 1e-4))
    f[b + 2] = min(n / (dur * 25.0), 1.5)
    f[b + 3] = np.log(max(areas.mean(), 1.0)) / 5.0
    f[b + 4] = min(rms, 1.0)
    f[b + 5] = np.clip(curv, -10, 10) / 4.0
    f[b + 6] = (xs.max() - xs.min()) / s
    f[b + 7] = (ys.max() - ys.min()) / s
    return f


def make_set(seed, n_per_class):
    rng = np.random.default_rng(seed)
    X, Y = [], []
    for cls in range(len(CLASSES)):
        got = 0
        while got < n_per_class:
            o = observe(rng, cls)
            if o is None:
                continue
            # the analytic scores growing prefixes of a track: train on prefixes too
            ts, xs, ys, ar, fh = o
            if len(ts) > 6 and rng.random() < 0.5:
                k = int(rng.integers(6, len(ts) + 1))
                ts, xs, ys, ar = ts[:k], xs[:k], ys[:k], ar[:k]
            f = features(ts, xs, ys, ar, fh)
            if f is None:
                continue
            X.append(f)
            Y.append(cls)
            got += 1
    return np.array(X, np.float32), np.array(Y, np.int64)


# ---------------------------------------------------------------- a small MLP in numpy
def init(rng, sizes):
    ps = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        ps.append([rng.normal(0, np.sqrt(2.0 / a), (a, b)).astype(np.float32), np.zeros(b, np.float32)])
    return ps


def forward(ps, x):
    acts = [x]
    h = x
    for i, (W, b) in enumerate(ps):
        h = h @ W + b
        if i < len(ps) - 1:
            h = np.maximum(h, 0)
        acts.append(h)
    z = h - h.max(1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(1, keepdims=True)
    return acts, p


def train(X, Y, Xv, Yv, seed=0, epochs=60, lr=2e-3, batch=256, wd=1e-4):
    rng = np.random.default_rng(seed)
    ps = init(rng, [N_FEATURES, 64, 64, len(CLASSES)])
    m = [[np.zeros_like(W), np.zeros_like(b)] for W, b in ps]
    v = [[np.zeros_like(W), np.zeros_like(b)] for W, b in ps]
    step = 0
    # falling is the class that matters: weight misses of it a bit more
    cw = np.ones(len(CLASSES), np.float32)
    cw[0] = 1.5
    for ep in range(epochs):
        perm = rng.permutation(len(X))
        for s in range(0, len(X), batch):
            idx = perm[s:s + batch]
            xb, yb = X[idx], Y[idx]
            acts, p = forward(ps, xb)
            g = p.copy()
            g[np.arange(len(yb)), yb] -= 1
            g *= cw[yb][:, None] / len(yb)
            step += 1
            for li in range(len(ps) - 1, -1, -1):
                W, b = ps[li]
                a = acts[li]
                gW = a.T @ g + wd * W
                gb = g.sum(0)
                if li > 0:
                    g = (g @ W.T) * (acts[li] > 0)
                for k, gr in enumerate((gW, gb)):
                    m[li][k] = 0.9 * m[li][k] + 0.1 * gr
                    v[li][k] = 0.999 * v[li][k] + 0.001 * gr * gr
                    mh = m[li][k] / (1 - 0.9 ** step)
                    vh = v[li][k] / (1 - 0.999 ** step)
                    ps[li][k] -= (lr * mh / (np.sqrt(vh) + 1e-8)).astype(np.float32)
        if ep % 10 == 9 or ep == epochs - 1:
            _, pv = forward(ps, Xv)
            acc = (pv.argmax(1) == Yv).mean()
            print(f"epoch {ep + 1}: held-out accuracy {acc:.4f}", flush=True)
        if ep == int(epochs * 0.7):
            lr *= 0.3
    return ps


def metrics(ps, X, Y, thr=0.5):
    _, p = forward(ps, X)
    pf = p[:, 0]
    pos = Y == 0
    out = {
        "n": int(len(Y)),
        "accuracy_6class": float((p.argmax(1) == Y).mean()),
        "falling_recall@0.5": float((pf[pos] >= thr).mean()),
        "falling_recall@0.35": float((pf[pos] >= 0.35).mean()),
        "false_positive_rate@0.35": float((pf[~pos] >= 0.35).mean()),
        "false_positive_rate@0.5": float((pf[~pos] >= thr).mean()),
    }
    for c in range(1, len(CLASSES)):
        sel = Y == c
        out[f"fpr@0.35_{CLASSES[c]}"] = float((pf[sel] >= 0.35).mean())
    return out


def export(ps, path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    cur = "features"
    for i, (W, b) in enumerate(ps):
        inits.append(numpy_helper.from_array(W.astype(np.float32), f"W{i}"))
        inits.append(numpy_helper.from_array(b.astype(np.float32), f"b{i}"))
        out = f"h{i}"
        nodes.append(helper.make_node("Gemm", [cur, f"W{i}", f"b{i}"], [out]))
        cur = out
        if i < len(ps) - 1:
            nodes.append(helper.make_node("Relu", [cur], [f"r{i}"]))
            cur = f"r{i}"
    nodes.append(helper.make_node("Softmax", [cur], ["probs"], axis=1))
    g = helper.make_graph(
        nodes,
        "vigil_trajectory",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", N_FEATURES])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", len(CLASSES)])],
        inits,
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="vigil-train.py")
    model.ir_version = 8
    model.doc_string = "vigil trajectory classifier: classes " + ",".join(CLASSES)
    onnx.checker.check_model(model)
    onnx.save(model, path)


def main():
    n = int(os.environ.get("VIGIL_TRAJ_N", "6000"))
    print(f"simulating {n} training tracks per class...", flush=True)
    X, Y = make_set(1, n)
    Xv, Yv = make_set(2, max(500, n // 4))  # held-out: different seed, unseen tracks
    ps = train(X, Y, Xv, Yv)
    mt = metrics(ps, Xv, Yv)
    print(json.dumps(mt, indent=2))
    export(ps, OUT)
    with open(os.path.join(HERE, "metrics.json"), "w") as f:
        json.dump(mt, f, indent=2)
    # A few held-out examples with expected outputs for the Rust test (features + p).
    _, p = forward(ps, Xv[:4])
    print("wrote", os.path.abspath(OUT), os.path.getsize(OUT), "bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
