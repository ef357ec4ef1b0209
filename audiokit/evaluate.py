"""Scoring trained models on held-out data dirs, with the trivial baseline side by side."""
from __future__ import annotations

import math
import statistics
from pathlib import Path

import torch
from tqdm import tqdm

from audiokit.api import EffectModel
from audiokit.data.datasets import CropDataset
from audiokit.metrics import esr, l1, loudness_error, mrstft
from audiokit.metrics import si_sdr as _si_sdr

EFFECT_METRICS = ("esr", "esr_pre", "mrstft", "l1", "loudness")  # loudness: |LUFS error| in LU


def _scores(pred: torch.Tensor, target: torch.Tensor, sample_rate: int) -> dict[str, float]:
    pred, target = pred[None], target[None]  # (1, T) -> (1, 1, T)
    return {"esr": float(esr(pred, target)), "esr_pre": float(esr(pred, target, pre_emphasis=0.85)),
            "mrstft": float(mrstft(pred, target)), "l1": float(l1(pred, target)),
            "loudness": float(loudness_error(pred, target, sample_rate))}


def evaluate_effect(fx: EffectModel, data_dir: str | Path, progress: bool = True) -> dict:
    """Score ``fx`` on every clip of a paired data dir with its recorded knobs.

    Returns ``{"model": {metric: mean}, "identity": {metric: mean}, "per_item": [...], "num_items": N}``;
    the identity baseline is the unprocessed input scored against the target.
    """
    data = CropDataset(data_dir, ["input.scp", "target.scp"], segment_seconds=None,
                       sample_rate=fx.sample_rate, with_params=True)
    if data.schema.names != fx.knobs.names:
        raise ValueError(f"{data_dir}: knobs {data.schema.names} differ from the model's {fx.knobs.names}")
    rows = []
    for i in tqdm(range(len(data)), desc=f"eval {Path(data_dir).name}", disable=not progress):
        ex = data[i]
        knobs = data.data.params(ex["key"])
        pred = fx.process(ex["input"], fx.sample_rate, **knobs)
        rows.append({"key": ex["key"], "model": _scores(pred, ex["target"], fx.sample_rate),
                     "identity": _scores(ex["input"], ex["target"], fx.sample_rate)})

    def mean(system: str, metric: str) -> float:
        values = [r[system][metric] for r in rows]
        return math.fsum(values) / len(values)

    # Means are dominated by clips whose target is much quieter than the input (ESR >> 1 for the
    # identity there): the median clip and the number of clips won say how a typical clip fares.
    return {"num_items": len(rows), "data": str(data_dir),
            "model": {m: mean("model", m) for m in EFFECT_METRICS},
            "identity": {m: mean("identity", m) for m in EFFECT_METRICS},
            "median_esr": {s: statistics.median(r[s]["esr"] for r in rows) for s in ("model", "identity")},
            "clips_better": sum(r["model"]["esr"] < r["identity"]["esr"] for r in rows),
            "per_item": rows}


def format_table(result: dict, title: str = "") -> str:
    """A fixed-width table of model vs identity (and their ratio) for each metric."""
    lines = [title] if title else []
    lines.append(f"{'metric':<10} {'model':>10} {'identity':>10} {'model/identity':>15}")
    for m in EFFECT_METRICS:
        a, b = result["model"][m], result["identity"][m]
        lines.append(f"{m:<10} {a:>10.4f} {b:>10.4f} {a / b if b else float('nan'):>15.3f}")
    a, b = result["median_esr"]["model"], result["median_esr"]["identity"]
    lines.append(f"{'esr median':<10} {a:>10.4f} {b:>10.4f} {a / b if b else float('nan'):>15.3f}")
    lines.append(f"(means over {result['num_items']} clips of {result['data']}; model ESR below the identity's "
                 f"on {result['clips_better']} of them)")
    return "\n".join(lines)


SEPARATION_METRICS = ("nsdr", "si_sdr")  # nsdr: the MDX "new SDR" (uSDR) over the whole track, dB
BSSEVAL_METRICS = ("sdr", "sir", "isr", "sar")  # BSSEval v4, median over 1 s frames per track, dB


def evaluate_separation(sep, data_dir: str | Path, progress: bool = True, bsseval: bool = False,
                        **separate_kwargs) -> dict:
    """Score a :class:`~audiokit.separate.SeparationModel` on every track of a separation data dir.

    Per track and stem: uSDR and SI-SDR of the model's estimate, and of the trivial baseline (the
    mixture itself as the estimate of every stem); a stem that is silent in a track (an optional stem
    the track does not have) is not scored there. With ``bsseval``, also BSSEval v4 SDR/SIR/ISR/SAR
    (:func:`audiokit.metrics.separation.bss_eval_v4`: 1 s frames, 512-tap filters fitted on the track,
    silent frames skipped), the **median over frames** of each track, over the stems present in it.
    Aggregates are labelled: the **median over tracks** (the convention of MUSDB18 papers) and the mean.

    Returns ``{"model": {metric: {stem: median}}, "mixture": {...}, "mean": {...}, "per_track": [...],
    "num_tracks": N, "metrics": [...]}``.
    """
    from audiokit.data.kaldi import DataDir
    from audiokit.metrics import si_sdr
    from audiokit.metrics.separation import bss_eval_v4, new_sdr, track_score

    data = DataDir(data_dir)
    missing = [s for s in sep.sources if f"{s}.scp" not in data]
    if missing or "mixture.scp" not in data:
        raise ValueError(f"{data_dir}: needs mixture.scp and a <stem>.scp for each of {sep.sources}; "
                         f"missing: {missing + ([] if 'mixture.scp' in data else ['mixture'])}")
    tables = ["mixture.scp", *(f"{s}.scp" for s in sep.sources)]
    dataset = CropDataset(data_dir, tables, segment_seconds=None, sample_rate=sep.sample_rate)
    rows = []
    for i in tqdm(range(len(dataset)), desc=f"eval {Path(data_dir).name}", disable=not progress):
        ex = dataset[i]
        mix = ex["mixture"]
        est = sep.separate(mix, sep.sample_rate, **separate_kwargs)
        row = {"key": ex["key"], "model": {}, "mixture": {}}
        for name in sep.sources:
            ref = ex[name][None]
            silent = not bool(ref.abs().max() > 0)  # an absent stem: no score (museval leaves it NaN too)
            for system, guess in (("model", est[name][None]), ("mixture", mix[None])):
                row[system][name] = {"nsdr": math.nan if silent else float(new_sdr(guess, ref)[0]),
                                     "si_sdr": math.nan if silent else float(si_sdr(guess, ref)[0])}
        if bsseval:
            present = [name for name in sep.sources if bool(ex[name].abs().max() > 0)]
            refs = torch.stack([ex[name] for name in present])  # (S', C, T)
            for system, guesses in (("model", torch.stack([est[name] for name in present])),
                                    ("mixture", mix[None].expand(len(present), -1, -1))):
                scores = track_score(bss_eval_v4(guesses, refs, sep.sample_rate))
                for name in sep.sources:
                    j = present.index(name) if name in present else None
                    row[system][name].update({m: math.nan if j is None else float(getattr(scores, m)[j])
                                              for m in BSSEVAL_METRICS})
        rows.append(row)
    metrics = SEPARATION_METRICS + (BSSEVAL_METRICS if bsseval else ())

    def agg(system: str, how) -> dict:
        def over_tracks(values):
            kept = [v for v in values if not math.isnan(v)]
            return how(kept) if kept else math.nan
        return {m: {name: over_tracks([r[system][name][m] for r in rows]) for name in sep.sources}
                for m in metrics}

    return {"num_tracks": len(rows), "data": str(data_dir), "aggregation": "median over tracks",
            "metrics": list(metrics),
            "model": agg("model", statistics.median), "mixture": agg("mixture", statistics.median),
            "mean": {"model": agg("model", lambda v: math.fsum(v) / len(v)),
                     "mixture": agg("mixture", lambda v: math.fsum(v) / len(v))},
            "per_track": rows}


def format_separation_table(result: dict, title: str = "") -> str:
    """Stems down, metrics across: model and mixture baseline (median over tracks)."""
    metrics = result.get("metrics", SEPARATION_METRICS)
    lines = [title] if title else []
    widths = [(max(len(m) + 6, 10), max(len(m) + 4, 8)) for m in metrics]
    lines.append(f"{'stem':<12}" + "".join(f" {m + ' model':>{w1}} {m + ' mix':>{w2}}"
                                           for m, (w1, w2) in zip(metrics, widths)))

    def cells(model: list[float], mixture: list[float]) -> str:
        return "".join(f" {a:>{w1}.2f} {b:>{w2}.2f}" for a, b, (w1, w2) in zip(model, mixture, widths))

    def mean(values):
        kept = [v for v in values if not math.isnan(v)]
        return statistics.fmean(kept) if kept else math.nan
    for stem in result["model"][metrics[0]]:
        lines.append(f"{stem:<12}" + cells(*([result[system][m][stem] for m in metrics]
                                             for system in ("model", "mixture"))))
    lines.append(f"{'(all)':<12}" + cells(*([mean(result[system][m].values()) for m in metrics]
                                            for system in ("model", "mixture"))))
    bss = ("; sdr/sir/isr/sar: BSSEval v4, median over 1 s frames" if "sdr" in metrics else "")
    lines.append(f"(dB, median over {result['num_tracks']} tracks of {result['data']}; 'mix': the mixture as "
                 f"estimate; nsdr: uSDR (MDX){bss})")
    return "\n".join(lines)


CODEC_METRICS = ("mel", "mrstft", "si_sdr", "spatial", "pesq", "stoi")  # mel: DAC's 7-resolution log-mel L1, summed;
# spatial (multichannel only): L1 between inter-channel correlation matrices, the spatial loss' measure


def _codec_scores(pred: torch.Tensor, target: torch.Tensor, sample_rate: int, perceptual: bool) -> dict:
    from audiokit.metrics import mel_distance, pesq_wb, stoi

    scores = {"mel": mel_distance(pred, target, sample_rate), "mrstft": float(mrstft(pred[None], target[None])[0]),
              "si_sdr": float(_si_sdr(pred[None], target[None])[0])}
    if pred.shape[0] > 1:  # multichannel (ambisonics): how far the inter-channel correlations moved
        from audiokit.losses.spatial import SpatialCovarianceLoss

        scores["spatial"] = float(SpatialCovarianceLoss("correlation")(pred[None], target[None]))
    if perceptual:
        scores.update(pesq=pesq_wb(pred, target, sample_rate), stoi=stoi(pred, target, sample_rate))
    return scores


def _multichannel_baseline(wav: torch.Tensor, sample_rate: int, bits_per_second: float) -> tuple[torch.Tensor, dict]:
    """The best classic codec for ``wav (C, T)`` with ``bits_per_second`` in all: the channels share the bits
    equally; when that leaves a channel too few (under 2-bit samples at 100 Hz), only the first ``n`` channels
    are coded and the others are silent, ``n`` the largest square below ``C`` that fits (for Ambisonics: order
    truncation, 16 -> 9 -> 4 -> 1 channels; stereo -> 1)."""
    from audiokit.codecs.baseline import best_baseline
    from audiokit.metrics import mel_distance

    channels = coded = wav.shape[0]
    while coded > 1 and bits_per_second / coded < 200:
        coded = math.isqrt(coded - 1) ** 2
    decoded, settings = best_baseline(wav[:coded], sample_rate, bits_per_second / coded,
                                      lambda y, x: mel_distance(y, x, sample_rate))
    if coded < channels:
        decoded = torch.cat([decoded, decoded.new_zeros(channels - coded, decoded.shape[-1])])
        settings = {**settings, "channels_coded": coded}
    return decoded, settings


def evaluate_codec(codec, data_dir: str | Path, bitrates=None, progress: bool = True, perceptual: bool = True,
                   baseline: bool = True, mono: bool = False) -> dict:
    """Score a :class:`~audiokit.codecs.inference.Codec` on every utterance of a data dir's ``wav.scp``.

    At each bitrate (default: the codec's :attr:`~audiokit.codecs.inference.Codec.bitrates`), each utterance
    is encoded and decoded and scored against the original: mel distance (DAC's multi-resolution log-mel L1,
    summed over 7 resolutions, lower is better), multi-resolution STFT distance (auraloss), SI-SDR (dB), and
    with ``perceptual`` wide-band PESQ and STOI; multichannel signals also get ``spatial``, the L1 distance
    between the channels' correlation matrices. With ``baseline`` the best classic codec at the same total
    bitrate (:func:`audiokit.codecs.baseline.best_baseline`: mu-law or ADPCM at the bit depth with the lowest
    mel distance *on that utterance*, the bits shared equally by the channels, or by the first channels only
    when there are too few for all: :func:`_multichannel_baseline`) is scored too. Codebook utilisation
    (entropy / log2(size) per codebook) is pooled over the utterances at the highest bitrate. With ``mono``
    every file is first mixed down to one channel (a mono general-audio codec scored on stereo music).

    Returns ``{"model": {kbps: {metric: mean}}, "baseline": {...}, "per_utterance": [...], "utilisation": {...},
    "num_items": N, "bitrates": [...]}`` (kbps keys as strings, e.g. ``"6"``).
    """
    from audiokit.data.kaldi import DataDir
    from audiokit.metrics import codebook_utilisation

    if "wav.scp" not in DataDir(data_dir):
        raise ValueError(f"{data_dir}: a codec is scored on wav.scp, which this data dir lacks")
    rates = sorted(float(b) for b in (bitrates or codec.bitrates))
    dataset = CropDataset(data_dir, ["wav.scp"], segment_seconds=None, sample_rate=codec.sample_rate, mono=mono)
    rows, top_codes = [], []
    for i in tqdm(range(len(dataset)), desc=f"eval {Path(data_dir).name}", disable=not progress):
        ex = dataset[i]
        wav = ex["wav"]
        row = {"key": ex["key"], "model": {}, "baseline": {}}
        for kbps in rates:
            tag = f"{kbps:g}"
            enc = codec.encode(wav, codec.sample_rate, bitrate=kbps)
            row["model"][tag] = _codec_scores(codec.decode(enc), wav, codec.sample_rate, perceptual)
            if kbps == rates[-1]:
                top_codes.append(enc.codes)
            if baseline:
                # the same total bits: kbps per code stream (a mono codec codes each channel as a stream, a
                # multichannel one the whole scene as one)
                decoded, settings = _multichannel_baseline(wav, codec.sample_rate, kbps * 1000.0 * enc.codes.shape[0])
                row["baseline"][tag] = {**_codec_scores(decoded, wav, codec.sample_rate, perceptual), **settings}
        rows.append(row)

    def mean(system: str) -> dict:
        out = {}
        for kbps in rates:
            tag = f"{kbps:g}"
            metrics = [m for m in CODEC_METRICS if m in rows[0][system].get(tag, {})]
            out[tag] = {}
            for m in metrics:
                values = [r[system][tag][m] for r in rows if not math.isnan(r[system][tag][m])]
                out[tag][m] = math.fsum(values) / len(values) if values else math.nan
        return out

    return {"num_items": len(rows), "data": str(data_dir), "bitrates": rates, "model": mean("model"),
            "baseline": mean("baseline") if baseline else {},
            "utilisation": codebook_utilisation(torch.cat(top_codes, dim=-1), codec.codebook_size),
            "per_utterance": rows}


def format_codec_table(result: dict, title: str = "") -> str:
    """Bitrates down, metrics across: the codec and the classic baseline at the same bitrate (means)."""
    metrics = [m for m in CODEC_METRICS if m in next(iter(result["model"].values()))]
    lines = [title] if title else []
    lines.append(f"{'kbit/s':<7}" + "".join(f" {m + ' model':>12} {m + ' base':>11}" for m in metrics))
    for tag, scores in result["model"].items():
        base = result["baseline"].get(tag, {})
        lines.append(f"{tag:<7}" + "".join(f" {scores[m]:>12.3f} {base.get(m, math.nan):>11.3f}" for m in metrics))
    util = result["utilisation"]["entropy_ratio"]
    lines.append(f"(means over {result['num_items']} utterances of {result['data']}; 'base': the best mu-law/ADPCM "
                 f"codec at the same bitrate; mel: DAC's multi-resolution log-mel L1 (lower is better); codebook "
                 f"entropy / log2(size) at {result['bitrates'][-1]:g} kbit/s: "
                 f"{min(util):.2f}..{max(util):.2f})")
    return "\n".join(lines)
