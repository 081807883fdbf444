#!/usr/bin/env python3
"""Reference decode for vigil's e-bike detector, on Python onnxruntime + numpy.

Implements the pre- and post-processing documented in ../shared/models/README.md (YOLOX:
top-left letterbox padded with 114, BGR 0..255, grid decode, score = obj*cls; NanoDet: plain
resize, BGR (x-mean)/std, 8-bin distance distributions) with the same bilinear resize as the
Rust code, then class-wise NMS. Prints JSON: {"layout", "detections": [{class_id, score, bbox}]}.

  ref_decode.py --model M --image I [--min-score 0.05] [--nms-iou 0.45]
  ref_decode.py --model M --bench N --threads T     (ms per inference, median)
"""
import argparse
import json
import sys
import time

import numpy as np
import onnxruntime as ort
from PIL import Image

F = np.float32


def axis_table(src, dst):
    scale = F(src) / F(dst)
    d = np.arange(dst, dtype=F)
    s = np.maximum((d + F(0.5)) * scale - F(0.5), F(0))
    i0 = np.minimum(np.floor(s).astype(np.int64), src - 1)
    i1 = np.minimum(i0 + 1, src - 1)
    f = np.clip(s - i0.astype(F), F(0), F(1)).astype(F)
    return i0, i1, f


def bilinear(img, rw, rh):
    h, w, _ = img.shape
    x0, x1, fx = axis_table(w, rw)
    y0, y1, fy = axis_table(h, rh)
    im = img.astype(F)
    r0 = im[y0]
    r1 = im[y1]
    fx = fx[None, :, None]
    a, b = r0[:, x0], r0[:, x1]
    c, d = r1[:, x0], r1[:, x1]
    top = a + (b - a) * fx
    bot = c + (d - c) * fx
    return (top + (bot - top) * fy[:, None, None]).astype(F)


def preprocess(rgb, W, H, layout):
    h, w, _ = rgb.shape
    if layout == "nanodet":
        res = bilinear(rgb, W, H)
        bgr = res[:, :, ::-1]
        mean = np.array([103.53, 116.28, 123.675], dtype=F)
        scale = F(1.0) / np.array([57.375, 57.12, 58.395], dtype=F)
        x = (bgr - mean) * scale
        return x.transpose(2, 0, 1)[None].astype(F), (F(W) / F(w), F(H) / F(h))
    r = min(F(W) / F(w), F(H) / F(h))
    rw = min(max(int(F(w) * r), 1), W)
    rh = min(max(int(F(h) * r), 1), H)
    res = bilinear(rgb, rw, rh)
    out = np.full((H, W, 3), 114.0, dtype=F)
    out[:rh, :rw] = res[:, :, ::-1]  # BGR
    return out.transpose(2, 0, 1)[None].astype(F), (r, r)


def decode_yolox(out, W, H, min_score):
    rows = out[0]
    dets = []
    i = 0
    for s in (8, 16, 32):
        gw, gh = W // s, H // s
        n = gw * gh
        blk = rows[i:i + n]
        i += n
        gy, gx = np.divmod(np.arange(n), gw)
        obj = blk[:, 4]
        cls = blk[:, 5:]
        c = cls.argmax(1)
        p = cls[np.arange(n), c]
        score = obj * p
        keep = (obj >= min_score) & (score >= min_score)
        cx = (blk[:, 0] + gx.astype(F)) * F(s)
        cy = (blk[:, 1] + gy.astype(F)) * F(s)
        bw = np.exp(blk[:, 2]) * F(s)
        bh = np.exp(blk[:, 3]) * F(s)
        for j in np.nonzero(keep)[0]:
            dets.append((int(c[j]), float(score[j]),
                         [cx[j] - bw[j] / 2, cy[j] - bh[j] / 2, cx[j] + bw[j] / 2, cy[j] + bh[j] / 2]))
    return dets


def decode_nanodet(outs, W, H, min_score):
    dets = []
    for s in (8, 16, 32):
        cls = outs["cls_pred_stride_%d" % s][0]
        dis = outs["dis_pred_stride_%d" % s][0]
        gw = -(-W // s)
        n = cls.shape[0]
        bins = dis.shape[1] // 4
        c = cls.argmax(1)
        score = cls[np.arange(n), c]
        d = dis.reshape(n, 4, bins)
        e = np.exp(d - d.max(2, keepdims=True))
        dist = (e * np.arange(bins, dtype=F)).sum(2) / e.sum(2) * F(s)
        row, col = np.divmod(np.arange(n), gw)
        cx = col.astype(F) * F(s) + F((s - 1) / 2)
        cy = row.astype(F) * F(s) + F((s - 1) / 2)
        for j in np.nonzero(score >= min_score)[0]:
            dets.append((int(c[j]), float(score[j]),
                         [cx[j] - dist[j, 0], cy[j] - dist[j, 1], cx[j] + dist[j, 2], cy[j] + dist[j, 3]]))
    return dets


def iou(a, b):
    iw = max(min(a[2], b[2]) - max(a[0], b[0]), 0)
    ih = max(min(a[3], b[3]) - max(a[1], b[1]), 0)
    inter = iw * ih
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / u if u > 0 else 0.0


def nms(dets, thr):
    dets = sorted(dets, key=lambda d: -d[1])[:3000]
    keep = []
    for d in dets:
        if all(k[0] != d[0] or iou(k[2], d[2]) <= thr for k in keep):
            keep.append(d)
    return keep


def session(model, threads):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--image")
    ap.add_argument("--min-score", type=float, default=0.05)
    ap.add_argument("--nms-iou", type=float, default=0.45)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--bench", type=int, default=0)
    a = ap.parse_args()
    sess = session(a.model, a.threads)
    inp = sess.get_inputs()[0]
    H, W = inp.shape[2], inp.shape[3]
    names = [o.name for o in sess.get_outputs()]
    layout = "nanodet" if "cls_pred_stride_8" in names else "yolox"
    if a.bench:
        x = np.full((1, 3, H, W), 114.0, dtype=F)
        for _ in range(3):
            sess.run(None, {inp.name: x})
        ts = []
        for _ in range(a.bench):
            t0 = time.perf_counter()
            sess.run(None, {inp.name: x})
            ts.append((time.perf_counter() - t0) * 1e3)
        ts.sort()
        print(json.dumps({"layout": layout, "threads": a.threads, "median_ms": ts[len(ts) // 2],
                          "mean_ms": sum(ts) / len(ts), "min_ms": ts[0]}))
        return
    rgb = np.asarray(Image.open(a.image).convert("RGB"))
    h, w, _ = rgb.shape
    x, (sx, sy) = preprocess(rgb, W, H, layout)
    res = sess.run(None, {inp.name: x})
    outs = dict(zip(names, res))
    ms = F(a.min_score)
    raw = decode_nanodet(outs, W, H, ms) if layout == "nanodet" else decode_yolox(res[0], W, H, ms)
    dets = []
    for c, s, b in raw:
        b = [float(np.clip(F(b[0]) / sx, 0, w)), float(np.clip(F(b[1]) / sy, 0, h)),
             float(np.clip(F(b[2]) / sx, 0, w)), float(np.clip(F(b[3]) / sy, 0, h))]
        if (b[2] - b[0]) * (b[3] - b[1]) > 0:
            dets.append((c, s, b))
    dets = nms(dets, a.nms_iou)
    json.dump({"layout": layout, "detections": [{"class_id": c, "score": s, "bbox": b} for c, s, b in dets]},
              sys.stdout)


if __name__ == "__main__":
    main()
