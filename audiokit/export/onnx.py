"""ONNX export: the chunk step as a graph with the state as explicit inputs and outputs.

Inputs ``audio (C, G)``, ``knobs (K,)``, ``smoothed (K,)``, ``state_in_<i>``; outputs ``output (C, G)``,
``smoothed_out (K,)``, ``state_out_<i>``. The host feeds each chunk's outputs back as the next
chunk's inputs and starts from zeros (``smoothed``: NaN). Shapes and dtypes of the state are in the
``audiokit.json`` metadata property; golden vectors in ``golden.npz.b64``. Checked block by block with
onnxruntime by :func:`verify`.
"""
from __future__ import annotations

import base64
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from audiokit.export.golden import check_golden, pack, read_metadata, unpack
from audiokit.export.streaming import ExportError, StreamingEffect, check_block
from audiokit.utils import atomic_path

META_KEY, GOLDEN_KEY = "audiokit.json", "golden.npz.b64"


def _require(module: str):
    try:
        return __import__(module)
    except ImportError:
        raise ExportError(f"ONNX export needs '{module}': pip install 'audiokit[export]'") from None


def save(stream: StreamingEffect, meta_json: str, golden: dict, out: str | os.PathLike) -> Path:
    onnx = _require("onnx")
    _require("onnxscript")
    state = stream.initial_state()
    args = (torch.zeros(stream.channels, stream.chunk), torch.full((stream.num_knobs,), 0.5),
            stream.initial_smoothed(), *state)
    inputs = ["audio", "knobs", "smoothed"] + [f"state_in_{i}" for i in range(len(state))]
    outputs = ["output", "smoothed_out"] + [f"state_out_{i}" for i in range(len(state))]
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(stream, args, input_names=inputs, output_names=outputs, dynamo=True,
                                    verbose=False)
    proto = program.model_proto
    for key, value in ((META_KEY, meta_json), (GOLDEN_KEY, base64.b64encode(pack(golden)).decode())):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    with atomic_path(out) as tmp:
        onnx.save(proto, str(tmp))
    return Path(out)


class OnnxEffect:
    """An ONNX export run with onnxruntime, with the state kept here: ``y = fx(x (C, N), knobs (K,))``."""

    def __init__(self, path: str | os.PathLike, threads: int = 1):
        ort = _require("onnxruntime")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types
            raise ExportError(f"'{path}': onnxruntime cannot load it ({str(e).splitlines()[0]})") from None
        props = self.session.get_modelmeta().custom_metadata_map
        if META_KEY not in props:
            raise ExportError(f"'{path}': ONNX file without audiokit metadata (not made by audiokit export)")
        self.metadata = read_metadata(props[META_KEY], str(path))
        self.golden = unpack(base64.b64decode(props[GOLDEN_KEY]), str(path))
        self.chunk = self.metadata["chunk"]
        self.reset()

    def reset(self) -> None:
        self.state = [np.zeros(s["shape"], dtype=s["dtype"]) for s in self.metadata["state"]]
        self.smoothed = np.full(self.metadata["num_knobs"], np.nan, dtype=np.float32)

    def __call__(self, x, knobs):
        m = self.metadata
        check_block(torch.as_tensor(x), torch.as_tensor(knobs), m["channels"], self.chunk, m["num_knobs"])
        x, knobs = np.asarray(x, dtype=np.float32), np.asarray(knobs, dtype=np.float32)
        out = np.empty_like(x)
        for i in range(x.shape[-1] // self.chunk):
            feed = {"audio": x[:, i * self.chunk : (i + 1) * self.chunk], "knobs": knobs, "smoothed": self.smoothed}
            feed.update({f"state_in_{j}": s for j, s in enumerate(self.state)})
            y, self.smoothed, *self.state = self.session.run(None, feed)
            out[:, i * self.chunk : (i + 1) * self.chunk] = y
        return out


def verify(path: str | os.PathLike) -> dict:
    fx = OnnxEffect(path)
    err = check_golden(lambda x, k: torch.from_numpy(fx(x.numpy(), k.numpy())), fx.golden, fx.chunk, str(path))
    return {**fx.metadata, "max_abs_error": err}
