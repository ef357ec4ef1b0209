"""The ``audiokit`` command line: ``audiokit <verb> ...``; ``audiokit <verb> --help`` for each.

    audiokit corpus make fx --out corpus/fx --size tiny --seed 0
    audiokit corpus prepare signaltrain --root /data/signaltrain --out corpus/signaltrain
    audiokit data validate corpus/fx/compressor/train
    audiokit train conf/tcn_tiny.yaml --exp-dir exp/tcn data.train.batch_size=16
    audiokit eval -m exp/tcn/best.pt --data corpus/fx/compressor/test --out exp/tcn/test.json
    audiokit fx process in.wav out.wav -m fx-compressor-tcn --knob threshold_db=-20 --knob ratio=6
    audiokit export -m fx-compressor-tcn --format torchscript -o fx.ts; audiokit export --verify fx.ts
    audiokit separate song.wav -m exp/sep/best.pt -o separated --stems vocals,drums
    audiokit codec encode speech.wav speech.akc -m codec-speech-rvq --bitrate 6
    audiokit codec decode speech.akc decoded.wav         # the model named in the file, or -m
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from audiokit.utils import AudiokitError
from audiokit.version import __version__


def _knob_arg(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got '{text}'")
    try:
        return name, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"value of knob '{name}' is not a number: '{value}'") from None


# ---------------------------------------------------------------------------------------- commands
def cmd_corpus_make(args) -> int:
    from audiokit.corpora import CORPORA

    make = CORPORA[args.corpus]
    kwargs = {"size": args.size, "seed": args.seed, "progress": not args.quiet}
    if args.sample_rate:
        kwargs["sample_rate"] = args.sample_rate
    out = make(args.out, **kwargs)
    print(f"{args.corpus} corpus ready in {out}")
    return 0


def cmd_corpus_download(args) -> int:
    from audiokit.corpora import DOWNLOADERS

    path = DOWNLOADERS[args.corpus](args.root, progress=not args.quiet)
    print(f"{args.corpus} corpus ready in {path}")
    return 0


def cmd_corpus_prepare(args) -> int:
    from audiokit.corpora import PREPARERS

    out = PREPARERS[args.corpus](args.root, args.out, progress=not args.quiet)
    print(f"{args.corpus} data dirs ready in {out}")
    return 0


def cmd_data_validate(args) -> int:
    from audiokit.data.validate import validate_data_dir

    status = 0
    for d in args.dirs:
        problems = validate_data_dir(d, check_audio=not args.no_audio)
        for p in problems:
            print(p)
        if problems:
            print(f"{d}: {len(problems)} problem(s)", file=sys.stderr)
            status = 1
        else:
            print(f"{d}: OK")
    return status


def cmd_train(args) -> int:
    from audiokit.train.builder import compose_config, train

    cfg = compose_config(args.config, args.overrides)
    result = train(cfg, args.exp_dir, resume=not args.no_resume)
    print(f"best model: {result.best} (score {result.best_score})\nlast model: {result.last}")
    return 0


def _write_per_item(args, data_dir: Path, rows: list[dict], what: str) -> None:
    """--per-track DIR: one JSON per track or utterance, museval style (DIR/<data dir name>/ with several dirs)."""
    from audiokit.utils import write_text_atomic

    if not args.per_track:
        return
    folder = args.per_track / Path(data_dir).name if len(args.data) > 1 else args.per_track
    folder.mkdir(parents=True, exist_ok=True)
    for row in rows:
        write_text_atomic(folder / f"{row['key']}.json", json.dumps(row, indent=1))
    print(f"wrote {len(rows)} {what} scores to {folder}/")


def cmd_eval(args) -> int:
    import audiokit
    from audiokit.evaluate import evaluate_effect, format_table
    from audiokit.utils import write_text_atomic

    model = audiokit.load(args.model, device=args.device)
    results = {}
    for d in args.data:
        if hasattr(model, "encode_file"):
            from audiokit.evaluate import evaluate_codec, format_codec_table

            if args.bsseval:
                raise SystemExit("audiokit eval: --bsseval is for separation models")
            res = evaluate_codec(model, d, bitrates=args.bitrates, progress=not args.quiet,
                                 perceptual=not args.no_perceptual, mono=args.mono)
            print(format_codec_table(res, title=f"== {args.model} on {d}"))
            _write_per_item(args, d, res["per_utterance"], "utterance")
        elif hasattr(model, "separate"):
            from audiokit.evaluate import evaluate_separation, format_separation_table

            res = evaluate_separation(model, d, progress=not args.quiet, bsseval=args.bsseval)
            print(format_separation_table(res, title=f"== {args.model} on {d}"))
            _write_per_item(args, d, res["per_track"], "track")
        else:
            if args.bsseval or args.per_track:
                raise SystemExit("audiokit eval: --bsseval and --per-track are for separation models")
            res = evaluate_effect(model, d, progress=not args.quiet)
            print(format_table(res, title=f"== {args.model} on {d}"))
        results[str(d)] = res
    if args.out:
        write_text_atomic(args.out, json.dumps(results if len(results) > 1 else next(iter(results.values())),
                                               indent=1))
        print(f"wrote {args.out}")
    return 0


def _load_codec(model: str, device: str):
    import audiokit
    from audiokit.codecs.inference import Codec

    codec = audiokit.load(model, device=device)
    if not isinstance(codec, Codec):
        raise AudiokitError(f"'{model}' is not a codec (it loads as {type(codec).__name__})")
    return codec


def cmd_codec_encode(args) -> int:
    codec = _load_codec(args.model, args.device)
    header = codec.encode_file(args.input, args.output, bitrate=args.bitrate, chunk_seconds=args.chunk_seconds)
    size = args.output.stat().st_size
    print(f"wrote {args.output}: {header.num_frames} frames x {header.channels} stream(s) x {header.num_codebooks} "
          f"codebooks, {header.duration:.2f} s at {header.bitrate / 1000:g} kbit/s; {size} bytes "
          f"({size * 8 / max(header.duration, 1e-9) / 1000:.3f} kbit/s with the {header.header_bytes + 4}-byte "
          f"header and checksum)")
    return 0


def cmd_codec_decode(args) -> int:
    from audiokit.codecs.bitstream import BitstreamReader

    model = args.model
    if model is None:  # the model the file names, if it is a pretrained one
        with BitstreamReader(args.input, verify=False) as reader:
            model = reader.header.model_id
        from audiokit.api import available_models

        if model not in available_models():
            raise AudiokitError(f"'{args.input}' was written by model {model!r}, which is not a pretrained model "
                                f"here: pass -m CHECKPOINT")
    codec = _load_codec(model, args.device)
    out = codec.decode_file(args.input, args.output, subtype="PCM_16" if args.int16 else "FLOAT",
                            chunk_seconds=args.chunk_seconds)
    print(f"wrote {out} ({codec.sample_rate} Hz)")
    return 0


def cmd_codec_info(args) -> int:
    from audiokit.codecs.bitstream import BitstreamReader

    if (args.input is None) == (args.model is None):
        raise AudiokitError("audiokit codec info: give a .akc file or -m MODEL (one of them)")
    if args.model is not None:
        codec = _load_codec(args.model, "cpu")
        rates = " ".join(f"{b:g}" for b in codec.bitrates)
        if args.bitrates:
            print(rates)
        else:
            print(f"{args.model}: {codec!r}\n  bitrates (kbit/s): {rates}; {codec.num_codebooks} codebooks of "
                  f"{codec.codebook_size}; {codec.frame_rate:g} frames/s (hop {codec.hop_length}); "
                  f"{'causal (streamable)' if codec.causal else 'non-causal'}")
        return 0
    if args.bitrates:
        raise AudiokitError("audiokit codec info: --bitrates needs -m MODEL")
    with BitstreamReader(args.input) as reader:
        h = reader.header
    print(f"{args.input}: model {h.model_id!r} (hash {h.model_hash.hex()}), {h.sample_rate} Hz, hop {h.hop_length}, "
          f"{h.channels} stream(s), {h.num_codebooks} codebooks of {list(h.codebook_sizes)}, {h.num_frames} frames, "
          f"{h.num_samples} samples ({h.duration:.2f} s), {h.bitrate / 1000:g} kbit/s; checksums OK")
    return 0


def cmd_fx_process(args) -> int:
    import audiokit

    fx = audiokit.load(args.model, device=args.device)
    knobs = dict(args.knob)
    for name in knobs:
        fx.knobs[name]  # unknown names raise with the list of valid ones
    fx.process_file(args.input, args.output, block_size=args.block_size, **knobs)
    settings = {**fx.knobs.defaults(), **knobs}
    print(f"wrote {args.output} ({', '.join(f'{k}={v:g}' for k, v in settings.items())})")
    return 0


def cmd_fx_info(args) -> int:
    import audiokit

    fx = audiokit.load(args.model)
    print(fx)
    for k in fx.knobs:
        print(f"  {k.name:<14} {k.minimum:g}..{k.maximum:g} {k.unit:<4} default {k.default:g}")
    return 0


def cmd_export(args) -> int:
    from audiokit.export import export_effect, verify

    if args.verify:
        for path in args.verify:
            r = verify(path)
            print(f"{path}: OK ({r['format']}, {r['model']}, {r['sample_rate']} Hz, {r['channels']} ch, chunk "
                  f"{r['chunk']}, golden max error {r['max_abs_error']:.2g})")
        return 0
    if not (args.model and args.format and args.out):
        raise AudiokitError("export needs -m MODEL --format FORMAT -o OUT (or --verify FILE)")
    out = export_effect(args.model, args.format, args.out, channels=args.channels, chunk=args.chunk,
                        smoothing_ms=args.smoothing_ms)
    r = verify(out)
    print(f"wrote {out} ({args.format}; chunk {r['chunk']} samples at {r['sample_rate']} Hz, {r['channels']} "
          f"channel(s), {r['num_knobs']} knobs; golden vectors verified, max error {r['max_abs_error']:.2g})")
    return 0


def cmd_augment(args) -> int:
    import torch

    from audiokit.audio.io import load, save
    from audiokit.augment import Chain

    wav, sample_rate = load(args.input)
    chain = Chain.from_config(args.chain, sample_rate=sample_rate)
    out = chain(wav[None], seed=args.seed)  # (C, T) -> (1, C, T)
    result = out.wav[0, :, : int(out.lengths[0])]
    if not torch.isfinite(result).all():
        raise AudiokitError(f"augmenting '{args.input}' gave NaN or Inf samples")
    save(args.output, result, sample_rate)
    names = ", ".join(t.name for t in chain.transforms)
    seconds = result.shape[-1] / sample_rate
    print(f"wrote {args.output} ({seconds:.2f} s at {sample_rate} Hz; {names}; seed {args.seed})")
    return 0


def cmd_separate(args) -> int:
    import audiokit
    from audiokit.separate import SeparationModel

    sep = audiokit.load(args.model, device=args.device)
    if not isinstance(sep, SeparationModel):
        raise AudiokitError(f"'{args.model}' is not a separation model")
    stems = args.stems.split(",") if args.stems else None
    subtype = "PCM_24" if args.int24 else "FLOAT"
    for src in args.inputs:
        # <track>.wav, or <track>/mixture.wav as in MUSDB-style trees
        track = Path(src).stem if Path(src).stem != "mixture" else Path(src).resolve().parent.name
        out = args.out / track
        paths = sep.separate_file(src, out, stems=stems, segment=args.segment, overlap=args.overlap,
                                  batch_chunks=args.batch_chunks, subtype=subtype) if args.shifts == 0 else None
        if paths is None:  # the shift trick needs the whole track in memory
            from audiokit.audio.io import load, save

            wav, rate = load(src)
            result = sep.separate(wav, rate, stems, args.segment, args.overlap, args.shifts, args.batch_chunks)
            paths = {name: save(out / f"{name}.wav", y, rate) for name, y in result.items()}
        print(f"{src}: {', '.join(str(p) for p in paths.values())}")
    return 0


# ------------------------------------------------------------------------------------------ parser
def _real_corpora() -> list[str]:
    from audiokit.corpora import PREPARERS

    return sorted(PREPARERS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="audiokit", description="audiokit: audio and speech models, by recipe.")
    parser.add_argument("--version", action="version", version=f"audiokit {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", metavar="<command>", required=True)

    corpus = sub.add_parser("corpus", help="make the offline corpora, download and prepare real ones").add_subparsers(
        dest="action", metavar="<action>", required=True)
    make = corpus.add_parser("make", help="make an offline corpus (deterministic, resumable)")
    make.add_argument("corpus", choices=["speech", "fx", "music", "ambisonics"], help="which corpus")
    make.add_argument("--out", required=True, type=Path, help="output folder")
    make.add_argument("--size", default="tiny", choices=["tiny", "small", "full"], help="corpus size")
    make.add_argument("--seed", type=int, default=0, help="random seed (same seed, same files)")
    make.add_argument("--sample-rate", type=int, default=None, help="sample rate in Hz (default: the corpus')")
    make.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    make.set_defaults(func=cmd_corpus_make)
    down = corpus.add_parser("download", help="download a real corpus (resumable; a copy under --root is used as is)")
    down.add_argument("corpus", choices=_real_corpora(), help="which corpus")
    down.add_argument("--root", required=True, type=Path, help="folder to download into, or holding a copy")
    down.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    down.set_defaults(func=cmd_corpus_download)
    prep = corpus.add_parser("prepare", help="write Kaldi data dirs of a real corpus")
    prep.add_argument("corpus", choices=_real_corpora(), help="which corpus")
    prep.add_argument("--root", required=True, type=Path, help="folder holding the corpus")
    prep.add_argument("--out", required=True, type=Path, help="output folder of the data dirs")
    prep.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    prep.set_defaults(func=cmd_corpus_prepare)

    data = sub.add_parser("data", help="Kaldi data directories").add_subparsers(
        dest="action", metavar="<action>", required=True)
    val = data.add_parser("validate", help="check data dirs; exit status 1 if any problem")
    val.add_argument("dirs", nargs="+", type=Path, help="data directories")
    val.add_argument("--no-audio", action="store_true", help="check tables only, do not open audio files")
    val.set_defaults(func=cmd_data_validate)

    tr = sub.add_parser("train", help="train from a Hydra config (resumes from exp-dir if possible)")
    tr.add_argument("config", type=Path, help="YAML config file")
    tr.add_argument("overrides", nargs="*", help="Hydra overrides key=value")
    tr.add_argument("--exp-dir", required=True, type=Path, help="output folder of the run")
    tr.add_argument("--no-resume", action="store_true", help="ignore an existing checkpoints/last.ckpt")
    tr.set_defaults(func=cmd_train)

    ev = sub.add_parser("eval", help="score a model on held-out data dirs against the trivial baseline")
    ev.add_argument("-m", "--model", required=True, help="checkpoint, experiment dir or pretrained name")
    ev.add_argument("--data", required=True, nargs="+", type=Path, help="data directories")
    ev.add_argument("--out", type=Path, help="write the results as JSON here")
    ev.add_argument("--device", default="cpu")
    ev.add_argument("--bsseval", action="store_true",
                    help="separation: also BSSEval v4 SDR/SIR/ISR/SAR (museval's, 1 s frames; slower)")
    ev.add_argument("--per-track", type=Path, metavar="DIR",
                    help="separation/codec: also write DIR/<track or utterance>.json with its scores")
    ev.add_argument("--bitrates", type=float, nargs="+", default=None,
                    help="codec: kbit/s to score at (default: every bitrate of the model)")
    ev.add_argument("--no-perceptual", action="store_true", help="codec: skip PESQ and STOI (faster)")
    ev.add_argument("--mono", action="store_true",
                    help="codec: mix each file down to mono first (e.g. stereo music for a mono codec)")
    ev.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    ev.set_defaults(func=cmd_eval)

    fx = sub.add_parser("fx", help="effect models").add_subparsers(dest="action", metavar="<action>", required=True)
    proc = fx.add_parser("process", help="process an audio file with an effect model")
    proc.add_argument("input", type=Path)
    proc.add_argument("output", type=Path)
    proc.add_argument("-m", "--model", required=True, help="checkpoint, experiment dir or pretrained name")
    proc.add_argument("--knob", action="append", type=_knob_arg, default=[], metavar="NAME=VALUE",
                      help="knob value in its unit (repeatable); unset knobs take their defaults")
    proc.add_argument("--block-size", type=int, default=65536, help="samples per streamed block")
    proc.add_argument("--device", default="cpu")
    proc.set_defaults(func=cmd_fx_process)
    finfo = fx.add_parser("info", help="show an effect model's knobs and properties")
    finfo.add_argument("-m", "--model", required=True)
    finfo.set_defaults(func=cmd_fx_info)

    sp = sub.add_parser("separate", help="separate audio files into stems with a separation model")
    sp.add_argument("inputs", nargs="+", type=Path, help="audio files")
    sp.add_argument("-m", "--model", required=True, help="checkpoint, experiment dir or pretrained name")
    sp.add_argument("-o", "--out", type=Path, default=Path("separated"), help="writes OUT/<track>/<stem>.wav")
    sp.add_argument("--stems", default=None, help="comma-separated subset of the model's stems")
    sp.add_argument("--segment", type=float, default=None, help="chunk length in seconds (default: the model's)")
    sp.add_argument("--overlap", type=float, default=0.25, help="overlap of chunks, fraction (default 0.25)")
    sp.add_argument("--shifts", type=int, default=0, help="random shifts to average (shift trick; loads the file)")
    sp.add_argument("--batch-chunks", type=int, default=4, help="chunks per model call (memory vs speed)")
    sp.add_argument("--device", default="cpu")
    fmt = sp.add_mutually_exclusive_group()
    fmt.add_argument("--int24", action="store_true", help="write 24-bit PCM")
    fmt.add_argument("--float32", action="store_true", help="write 32-bit float (default)")
    sp.set_defaults(func=cmd_separate)

    co = sub.add_parser("codec", help="neural codecs: audio <-> .akc bitstreams").add_subparsers(
        dest="action", metavar="<action>", required=True)
    enc = co.add_parser("encode", help="encode an audio file to a .akc bitstream")
    enc.add_argument("input", type=Path)
    enc.add_argument("output", type=Path)
    enc.add_argument("-m", "--model", required=True, help="checkpoint, experiment dir or pretrained name")
    enc.add_argument("-b", "--bitrate", type=float, default=None, help="kbit/s per stream (default: the highest)")
    enc.add_argument("--chunk-seconds", type=float, default=30.0, help="audio coded per model call (memory)")
    enc.add_argument("--device", default="cpu")
    enc.set_defaults(func=cmd_codec_encode)
    dec = co.add_parser("decode", help="decode a .akc bitstream to a WAV file at the model's rate")
    dec.add_argument("input", type=Path)
    dec.add_argument("output", type=Path)
    dec.add_argument("-m", "--model", default=None, help="default: the pretrained model named in the file")
    dec.add_argument("--int16", action="store_true", help="write 16-bit PCM (default 32-bit float)")
    dec.add_argument("--chunk-seconds", type=float, default=30.0, help="audio decoded per model call (memory)")
    dec.add_argument("--device", default="cpu")
    dec.set_defaults(func=cmd_codec_decode)
    cinfo = co.add_parser("info", help="check a .akc file and print its header, or describe a codec model")
    cinfo.add_argument("input", type=Path, nargs="?", help=".akc file")
    cinfo.add_argument("-m", "--model", help="describe this model instead (checkpoint, exp dir or pretrained name)")
    cinfo.add_argument("--bitrates", action="store_true", help="with -m: print only its bitrates (kbit/s)")
    cinfo.set_defaults(func=cmd_codec_info)

    ex = sub.add_parser("export", help="export an effect model as a real-time plugin model, or verify one")
    ex.add_argument("-m", "--model", help="checkpoint, experiment dir or pretrained name")
    ex.add_argument("--format", choices=["torchscript", "onnx", "aoti", "neutone"], help="export format")
    ex.add_argument("-o", "--out", type=Path, help="output file (.ts, .onnx, .pt2, .nm)")
    ex.add_argument("--channels", type=int, default=1, help="audio channels the plugin processes (default 1)")
    ex.add_argument("--chunk", type=int, default=None,
                    help="samples per internal step; host blocks must be multiples (default 128, or a "
                         "multiple of a TFiLM model's block)")
    ex.add_argument("--smoothing-ms", type=float, default=20.0, help="knob smoothing time constant (0: off)")
    ex.add_argument("--verify", nargs="+", type=Path, metavar="FILE",
                    help="reload exported files and re-run their golden vectors instead of exporting")
    ex.set_defaults(func=cmd_export)

    aug = sub.add_parser("augment", help="apply an augmentation chain to an audio file")
    aug.add_argument("input", type=Path)
    aug.add_argument("output", type=Path)
    aug.add_argument("--chain", required=True,
                     help="YAML file (a list of {name: ..., field: value}) or inline "
                          "'gain:min_db=-6,max_db=6;noise:snr_db=10'")
    aug.add_argument("--seed", type=int, default=0, help="random seed (same seed, same output)")
    aug.set_defaults(func=cmd_augment)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # Hydra overrides (key=value) may come before or after options: `train CONF --exp-dir D a=1 b=2`.
    args, extra = parser.parse_known_args(argv)
    if extra:
        if args.command != "train" or any(e.startswith("-") or "=" not in e for e in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.overrides = list(args.overrides) + extra
    if args.verbose:  # Lightning has its own handlers; configuring the root logger otherwise doubles its lines
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except AudiokitError as e:
        print(f"audiokit {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
