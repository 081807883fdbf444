#!/usr/bin/env python3
"""Tiny constant-output ONNX "detectors" for layout tests (needs `pip install onnx numpy`).

Each model takes images [1,3,64,64] and returns a fixed tensor (the input is folded in with a
zero weight so it stays a real graph input):
  yolov8.onnx  output0 [1, 4+3, 84]  Ultralytics layout, metadata names {0:'person',1:'bicycle',2:'motorcycle'}
  yolov5.onnx  output  [1, 252, 5+3] classic YOLOv5 layout (3 anchors x 84 cells), no metadata
  weird.onnx   output  [1, 10, 10]   not a known layout
Boxes (network pixels, 64x64 input): motorcycle 0.9 at cx=32 cy=40 w=16 h=10; a weaker
duplicate (0.5) of it; person 0.8 at cx=10 cy=10 w=8 h=8.

  make_fake_detectors.py OUT_DIR
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

N = 8 * 8 + 4 * 4 + 2 * 2  # anchors for a 64x64 input at strides 8/16/32
BOXES = [  # (cx, cy, w, h, class, score)
    (32, 40, 16, 10, 2, 0.9),
    (33, 40, 16, 10, 2, 0.5),
    (10, 10, 8, 8, 0, 0.8),
]


def model(path, const, out_name, names=None):
    c = numpy_helper.from_array(const.astype(np.float32), "C")
    zero = numpy_helper.from_array(np.zeros((1,), np.float32), "Z")
    shape = numpy_helper.from_array(np.array([1, 1, 1], np.int64), "S")
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["m"], keepdims=1),
        helper.make_node("Reshape", ["m", "S"], ["m3"]),
        helper.make_node("Mul", ["m3", "Z"], ["z3"]),
        helper.make_node("Add", ["C", "z3"], [out_name]),
    ]
    g = helper.make_graph(
        nodes, "fake",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 64, 64])],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, list(const.shape))],
        [c, zero, shape],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    if names:
        m.metadata_props.add(key="names", value=names)
    onnx.checker.check_model(m)
    onnx.save(m, path)


def main():
    out = sys.argv[1]
    v8 = np.zeros((1, 4 + 3, N), np.float32)
    for j, (cx, cy, w, h, c, s) in enumerate(BOXES):
        v8[0, 0:4, j] = (cx, cy, w, h)
        v8[0, 4 + c, j] = s
    model(f"{out}/yolov8.onnx", v8, "output0", "{0: 'person', 1: 'bicycle', 2: 'motorcycle'}")
    v5 = np.zeros((1, 3 * N, 5 + 3), np.float32)
    for j, (cx, cy, w, h, c, s) in enumerate(BOXES):
        v5[0, j, 0:4] = (cx, cy, w, h)
        v5[0, j, 4] = 1.0
        v5[0, j, 5 + c] = s
    model(f"{out}/yolov5.onnx", v5, "output")
    model(f"{out}/weird.onnx", np.zeros((1, 10, 10), np.float32), "output")


if __name__ == "__main__":
    main()
