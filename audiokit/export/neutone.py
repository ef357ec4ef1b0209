"""Neutone export (``.nm``): the TorchScript streaming module inside the Neutone SDK's
``WaveformToWaveformBase``, saved by the SDK's own ``save_neutone_model`` (which scripts the wrapper,
validates the metadata, reloads the file and exercises the plugin's methods).

The knobs become at most 4 continuous Neutone parameters in 0..1 (the normalised knob values; the
description gives the physical range); the native sample rate is the model's and the native buffer
sizes are multiples of the export chunk. Needs the optional ``neutone_sdk`` (``pip install
'audiokit[neutone]'``; it pins numpy < 2.3).
"""
import base64
import json
import logging
import os
import tempfile
import warnings
from pathlib import Path

import torch
from torch import Tensor

from audiokit.export import torchscript as ts
from audiokit.export.golden import check_golden, pack, read_metadata, unpack
from audiokit.export.streaming import ExportError, StreamingEffect
from audiokit.utils import atomic_path

try:
    from neutone_sdk import ContinuousNeutoneParameter, NeutoneParameter, WaveformToWaveformBase
    from neutone_sdk.utils import load_neutone_model, save_neutone_model
except ImportError:  # the class below still has to be definable for the error to be raised at use
    WaveformToWaveformBase = torch.nn.Module
    NeutoneParameter = object
    save_neutone_model = load_neutone_model = None

MAX_KNOBS = 4
BUFFER_SIZES = (128, 256, 512, 1024, 2048, 4096)
EXTRA_META, EXTRA_GOLDEN = ts.EXTRA_META, ts.EXTRA_GOLDEN


class NeutoneEffect(WaveformToWaveformBase):
    """An audiokit effect export as a Neutone waveform-to-waveform model."""

    def __init__(self, effect: torch.jit.ScriptModule, meta: dict):
        # Plain attributes first: the base constructor already asks for the parameters and metadata.
        knobs = meta.get("knobs") or []
        self.model_name = f"audiokit-{meta['model']}".lower()
        self.knob_names: list[str] = [k["name"] for k in knobs]
        self.knob_descriptions: list[str] = [
            f"{k['name']}: {k['minimum']:g}..{k['maximum']:g} {k.get('unit', '')}".strip() for k in knobs]
        self.knob_defaults: list[float] = effect.default_knobs.tolist()
        self.native_rate = int(meta["sample_rate"])
        self.native_sizes: list[int] = [n for n in BUFFER_SIZES if n % int(meta["chunk"]) == 0]
        self.mono = int(meta["channels"]) == 1
        super().__init__(effect)

    def get_model_name(self) -> str:
        return self.model_name

    def get_model_authors(self) -> list[str]:
        return ["audiokit"]

    def get_model_short_description(self) -> str:
        return "Neural effect model trained with audiokit."

    def get_model_long_description(self) -> str:
        return "A causal neural audio effect with knob conditioning, streamed with cached state."

    def get_technical_description(self) -> str:
        return "Exported by `audiokit export --format neutone`: block streaming with cached state, smoothed knobs."

    def get_tags(self) -> list[str]:
        return ["audiokit", "effect"]

    def get_model_version(self) -> str:
        return "1.0.0"

    def is_experimental(self) -> bool:
        return True

    def get_neutone_parameters(self) -> list[NeutoneParameter]:
        return [ContinuousNeutoneParameter(name, desc, default_value=float(d))
                for name, desc, d in zip(self.knob_names, self.knob_descriptions, self.knob_defaults)]

    @torch.jit.export
    def is_input_mono(self) -> bool:
        return self.mono

    @torch.jit.export
    def is_output_mono(self) -> bool:
        return self.mono

    @torch.jit.export
    def get_native_sample_rates(self) -> list[int]:
        return [self.native_rate]

    @torch.jit.export
    def get_native_buffer_sizes(self) -> list[int]:
        return self.native_sizes

    @torch.jit.export
    def reset_model(self) -> bool:
        self.model.reset()
        return True

    def do_forward_pass(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        knobs = torch.stack([params[name].reshape(()) for name in self.knob_names])
        return self.model(x, knobs.clamp(0.0, 1.0))


def _require_sdk() -> None:
    if save_neutone_model is None:
        raise ExportError("Neutone export needs the neutone SDK: pip install 'audiokit[neutone]' "
                          "(it pins numpy < 2.3; use a separate environment if that clashes)")


def save(stream: StreamingEffect, meta_json: str, golden: dict, out: str | os.PathLike) -> Path:
    _require_sdk()
    meta = json.loads(meta_json)
    if stream.num_knobs > MAX_KNOBS:
        raise ExportError(f"Neutone models take at most {MAX_KNOBS} knobs; this model has {stream.num_knobs}")
    if stream.channels not in (1, 2):
        raise ExportError(f"Neutone models are mono or stereo; this export has {stream.channels} channels")
    if not any(n % stream.chunk == 0 for n in BUFFER_SIZES):
        raise ExportError(f"Neutone needs native buffer sizes: chunk {stream.chunk} divides none of {BUFFER_SIZES}")
    if len(meta.get("knobs") or []) != stream.num_knobs:  # no schema in the checkpoint: generic names
        meta["knobs"] = [{"name": f"knob{i + 1}", "minimum": 0.0, "maximum": 1.0, "default": 0.5}
                         for i in range(stream.num_knobs)]
    effect = ts.script(stream, meta_json)
    wrapper = NeutoneEffect(effect, meta)
    logging.getLogger("neutone_sdk").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        save_neutone_model(wrapper, Path(tmp), dump_samples=False, submission=False, speed_benchmark=False,
                           test_offline_mode=False)
        model, neutone_meta = load_neutone_model(str(Path(tmp) / "model.nm"))
        extra = {"metadata.json": json.dumps(neutone_meta, indent=4), EXTRA_META: json.dumps(meta),
                 EXTRA_GOLDEN: base64.b64encode(pack(golden)).decode()}
        with atomic_path(out) as dst:
            torch.jit.save(model, str(dst), _extra_files=extra)
    return Path(out)


def verify(path: str | os.PathLike) -> dict:
    """Reload with the SDK's loader (validates Neutone's metadata), then run the golden vectors through
    the plugin's entry point at the native rate, one chunk per call."""
    _require_sdk()
    extra = {EXTRA_META: "", EXTRA_GOLDEN: ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, _ = load_neutone_model(str(path))
        torch.jit.load(str(path), _extra_files=extra)
    if not extra[EXTRA_META]:
        raise ExportError(f"'{path}': Neutone file without audiokit metadata (not made by audiokit export)")
    meta = read_metadata(extra[EXTRA_META], str(path))
    golden = unpack(base64.b64decode(extra[EXTRA_GOLDEN]), str(path))
    chunk = meta["chunk"]
    model.set_daw_sample_rate_and_buffer_size(meta["sample_rate"], chunk)
    model.reset()
    n_params = 4

    def run(x: torch.Tensor, knobs: torch.Tensor) -> torch.Tensor:
        params = torch.zeros(n_params, chunk)
        params[: knobs.shape[0]] = knobs[:, None]
        # the plugin wrapper returns its own output buffer, overwritten by the next call: copy it
        outs = [model(x[:, i : i + chunk], params).clone() for i in range(0, x.shape[1], chunk)]
        return torch.cat(outs, dim=1)

    with torch.no_grad():
        err = check_golden(run, golden, chunk, str(path))
    return {**meta, "max_abs_error": err}
