"""Generated stand-ins for the preprocessing weights, for tests (no Hub, no real checkpoints).

A local weights folder is laid out as vton.weights expects (``<dir>/openpose/body_pose_model.pth``,
``<dir>/schp/parsing_lip.onnx``, ``<dir>/schp/parsing_atr.onnx``), and each folder's ``manifest.json`` declares
the generated files' sha256 (``"synthetic": true``) so they load verified. The OpenPose generator and the
manifest writer are thin shims over ``vton.preprocess.standins`` (which also has random SCHP-signature graphs).

- ``make_openpose_weights(dir, seed=0)``: random OpenPose body weights with the real keys and shapes (He-normal
  convs, small biases), saved as a plain state dict with ``torch.save``.
- ``make_parsing_onnx(path, layout=None, colors=None, input_size=473, n_labels=20)``: a tiny ONNX graph with
  SCHP's signature (input ``input.1`` ``[1, 3, n, n]``; three outputs ``[1, n_labels, m, m]``, ``m = ceil(n/4)``)
  and *known* logits. Output 2 (fusion) is the right one; outputs 1 and 3 give other labels so a parser that
  reads the wrong output fails.
  * ``layout``: ``(m, m)`` label map in letterbox space; the logits are its one-hot × 10 whatever the input.
  * ``colors``: ``(n_labels, 3)`` RGB; each logit cell is labelled with the nearest colour (in the normalised
    BGR space the parser feeds) of the input pixel at ``(4i, 4j)``. Default colours: label 0 white, label j ≥ 1
    its Pascal-VOC palette colour, so a photo painted with ``LIP.colors()`` parses to those labels.
- ``make_bad_parsing_onnx(path, input_shape, output_shapes)``: a graph with an arbitrary (wrong) signature.
- ``make_preprocess_weights(dir, seed=0)``: all three, with the default colour models; returns ``dir``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = [
    "MEAN_BGR", "STD_BGR", "default_colors", "write_local_manifest", "make_openpose_weights", "make_parsing_onnx",
    "make_bad_parsing_onnx", "make_preprocess_weights",
]

MEAN_BGR = np.array([0.406, 0.456, 0.485])
STD_BGR = np.array([0.225, 0.224, 0.229])
_PARSING_KEYS = {"lip": ("schp/lip", "parsing_lip.onnx", 473, 20), "atr": ("schp/atr", "parsing_atr.onnx", 512, 18)}


def write_local_manifest(file: str | Path, key: str, fmt: str) -> Path:
    """Declare ``file`` (inside ``<dir>/<folder>/``) as ``key`` in that folder's ``manifest.json``, merging, as RANDOM
    stand-in weights (``vton.weights.declare_local_file``)."""
    from vton.preprocess.standins import RANDOM_NOTE
    from vton.weights import declare_local_file

    return declare_local_file(file, key, fmt, RANDOM_NOTE)


def make_openpose_weights(weights_dir: str | Path, seed: int = 0) -> Path:
    """Random body weights at ``<weights_dir>/openpose/body_pose_model.pth`` (checkpoint keys), declared locally.

    Shim: ``vton.preprocess.standins.write_random_openpose`` in the released ``.pth`` form."""
    from vton.preprocess.standins import write_random_openpose

    path = write_random_openpose(Path(weights_dir) / "openpose" / "body_pose_model.pth", seed=seed)
    write_local_manifest(path, "openpose/body", "pth")
    return path


def default_colors(n_labels: int = 20) -> np.ndarray:
    """``(n_labels, 3) uint8``: label 0 white (the photos' background), label j its Pascal-VOC palette colour."""
    from vton.labels import palette

    c = palette(n_labels).copy()
    c[0] = 255
    return c


def _graph_to_file(nodes, inits, input_shape, outputs, path: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        nodes, "test_parser",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, list(input_shape))],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)) for name, shape in outputs],
        initializer=[onnx.numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="vton-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def make_parsing_onnx(path: str | Path, layout: np.ndarray | None = None, colors: np.ndarray | None = None,
                      input_size: int = 473, n_labels: int = 20) -> Path:
    """A tiny SCHP-shaped ONNX parser with known logits (see the module docstring); returns ``path``."""
    from onnx import helper

    path = Path(path)
    n, m = input_size, (input_size + 3) // 4
    shape_out = [1, n_labels, m, m]
    nodes, inits = [], {}
    if layout is not None:
        layout = np.asarray(layout)
        if layout.shape != (m, m):
            raise ValueError(f"layout must be ({m}, {m}) for input {n}, got {layout.shape}")
        onehot = (np.arange(n_labels)[:, None, None] == layout[None]).astype(np.float32)[None] * 10.0
        inits.update(zero=np.zeros(1), good=onehot, wrong1=np.roll(onehot, 1, axis=1), wrong3=-onehot)
        nodes += [
            helper.make_node("ReduceMean", ["input.1"], ["mean"], keepdims=1),
            helper.make_node("Mul", ["mean", "zero"], ["nil"]),
        ]
        for i, name in ((1, "wrong1"), (2, "good"), (3, "wrong3")):
            nodes.append(helper.make_node("Add", ["nil", name], [f"out{i}"]))
    else:
        cols = default_colors(n_labels) if colors is None else np.asarray(colors)
        if cols.shape != (n_labels, 3):
            raise ValueError(f"colors must be ({n_labels}, 3), got {cols.shape}")
        norm = (cols[:, ::-1] / 255.0 - MEAN_BGR) / STD_BGR  # (L, 3) as the parser feeds them: BGR, normalised
        w = (2.0 * norm)[:, :, None, None]  # logit_k = 2 n_k·x − |n_k|² (= −|x − n_k|² + |x|²)
        b = -(norm**2).sum(1)
        inits.update(w_good=w, b_good=b, w_wrong1=np.roll(w, 1, axis=0), b_wrong1=np.roll(b, 1), w_wrong3=-w,
                     b_wrong3=-b)
        for i, name in ((1, "wrong1"), (2, "good"), (3, "wrong3")):
            nodes.append(helper.make_node("Conv", ["input.1", f"w_{name}", f"b_{name}"], [f"out{i}"],
                                          kernel_shape=[1, 1], strides=[4, 4]))
    outputs = [(f"out{i}", shape_out) for i in (1, 2, 3)]
    return _graph_to_file(nodes, inits, [1, 3, n, n], outputs, path)


def make_bad_parsing_onnx(path: str | Path, input_shape=(1, 3, 473, 473), output_shapes=((1, 20, 119, 119),)) -> Path:
    """A graph with the given (usually wrong) signature: every output is a constant of its shape."""
    from onnx import helper

    nodes, inits = [
        helper.make_node("ReduceMean", ["input.1"], ["mean"], keepdims=0),
    ], {}
    outputs = []
    for i, shape in enumerate(output_shapes):
        inits[f"c{i}"] = np.zeros(shape, np.float32)
        nodes.append(helper.make_node("Add", [f"c{i}", "mean"], [f"out{i}"]))
        outputs.append((f"out{i}", list(shape)))
    return _graph_to_file(nodes, inits, list(input_shape), outputs, Path(path))


def make_preprocess_weights(weights_dir: str | Path, seed: int = 0, openpose: bool = True) -> Path:
    """Random OpenPose body weights plus colour-model LIP and ATR parsers in ``weights_dir``; returns it."""
    root = Path(weights_dir)
    if openpose:
        make_openpose_weights(root, seed=seed)
    for key, file, size, n_labels in _PARSING_KEYS.values():
        p = make_parsing_onnx(root / "schp" / file, input_size=size, n_labels=n_labels)
        write_local_manifest(p, key, "onnx")
    return root
