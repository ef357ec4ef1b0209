"""``torch.export`` + AOTInductor export: the chunk step compiled ahead of time to native code.

The package (``.pt2``) holds a shared library with the step ``(audio, knobs, smoothed, *state) ->
(output, smoothed, *state)`` (the ONNX interface), loadable from Python with
``torch._inductor.aoti_load_package`` and from C++ with ``torch::inductor::AOTIModelPackageLoader``;
``audiokit/export.json`` and ``audiokit/golden.npz`` ride along in the same zip archive, and the
package's own metadata (``get_metadata()``) carries what the C++ host needs: rate, channels, chunk,
knob count and defaults, latency and the state layout.
Compiling needs a C++ compiler (g++) and takes a minute or two.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import warnings
import zipfile
from pathlib import Path

import torch

from audiokit.export.golden import check_golden, pack, read_metadata, unpack
from audiokit.export.streaming import ExportError, StreamingEffect, check_block
from audiokit.utils import atomic_path

META_ENTRY, GOLDEN_ENTRY = "audiokit/export.json", "audiokit/golden.npz"


def host_metadata(stream: StreamingEffect, meta_json: str) -> dict[str, str]:
    """What the C++ host reads with ``AOTIModelPackageLoader::get_metadata()`` (strings only)."""
    from audiokit.export.torchscript import default_knobs

    state = ";".join(f"{t.dtype}".replace("torch.", "") + ":" + "x".join(map(str, t.shape))
                     for t in stream.initial_state())
    return {"sample_rate": str(stream.sample_rate), "channels": str(stream.channels), "chunk": str(stream.chunk),
            "num_knobs": str(stream.num_knobs), "latency": str(int(stream.model.latency)),
            "default_knobs": ",".join(f"{v:.9g}" for v in default_knobs(stream, meta_json).tolist()),
            "state": state}


def save(stream: StreamingEffect, meta_json: str, golden: dict, out: str | os.PathLike) -> Path:
    if shutil.which(os.environ.get("CXX", "g++")) is None:
        raise ExportError("AOTInductor export needs a C++ compiler (g++ or $CXX) on PATH")
    args = (torch.zeros(stream.channels, stream.chunk), torch.full((stream.num_knobs,), 0.5),
            stream.initial_smoothed(), *stream.initial_state())
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.export.export(stream, args, strict=False)
        with tempfile.TemporaryDirectory() as tmpdir:
            built = torch._inductor.aoti_compile_and_package(
                program, package_path=os.path.join(tmpdir, "m.pt2"),
                inductor_configs={"aot_inductor.metadata": host_metadata(stream, meta_json)})
            with atomic_path(out) as tmp:
                shutil.copyfile(built, tmp)
                with zipfile.ZipFile(tmp, "a") as z:
                    z.writestr(META_ENTRY, meta_json)
                    z.writestr(GOLDEN_ENTRY, pack(golden))
    return Path(out)


class AotiEffect:
    """An AOTInductor package with the state kept here: ``y = fx(x (C, N), knobs (K,))``."""

    def __init__(self, path: str | os.PathLike):
        try:
            with zipfile.ZipFile(path) as z:
                names = set(z.namelist())
                if META_ENTRY not in names:
                    raise ExportError(f"'{path}': .pt2 package without audiokit metadata (not made by audiokit export)")
                self.metadata = read_metadata(z.read(META_ENTRY), str(path))
                self.golden = unpack(z.read(GOLDEN_ENTRY), str(path))
        except zipfile.BadZipFile:
            raise ExportError(f"'{path}': not a .pt2 package (not a zip archive)") from None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.runner = torch._inductor.aoti_load_package(str(path))
        self.chunk = self.metadata["chunk"]
        self.reset()

    def reset(self) -> None:
        dtypes = {"float32": torch.float32, "float64": torch.float64}
        self.state = [torch.zeros(s["shape"], dtype=dtypes[s["dtype"]]) for s in self.metadata["state"]]
        self.smoothed = torch.full((self.metadata["num_knobs"],), float("nan"))

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, knobs: torch.Tensor) -> torch.Tensor:
        m = self.metadata
        check_block(x, knobs, m["channels"], self.chunk, m["num_knobs"])
        out = torch.empty_like(x)
        for i in range(x.shape[-1] // self.chunk):
            y, smoothed, *state = self.runner(
                x[:, i * self.chunk : (i + 1) * self.chunk].contiguous(), knobs, self.smoothed, *self.state)
            # outputs may live in the runner's buffers, reused by the next call: keep copies
            self.smoothed, self.state = smoothed.clone(), [t.clone() for t in state]
            out[:, i * self.chunk : (i + 1) * self.chunk] = y
        return out


def verify(path: str | os.PathLike) -> dict:
    fx = AotiEffect(path)
    err = check_golden(fx, fx.golden, fx.chunk, str(path))
    return {**fx.metadata, "max_abs_error": err}
