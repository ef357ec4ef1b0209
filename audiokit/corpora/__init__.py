"""Corpora: the offline generators (no network, deterministic for a seed, resumable).

``CORPORA`` maps a corpus name to its maker, ``make(out_dir, size=..., seed=..., sample_rate=...,
progress=...) -> Path``; the CLI dispatches on it (``audiokit corpus make speech|fx --out DIR``):

* ``speech`` — :func:`audiokit.corpora.speech.make_speech`: eSpeak NG digit strings and sentences,
  Kaldi data dirs with held-out speakers (ASR, speaker and SSL recipes).
* ``fx`` — :func:`audiokit.corpora.fx.make_fx`: dry/wet pairs through pedalboard's compressor and
  distortion, with knob values and held-out knob ranges in the test split (effect-modelling recipes).

Both need the ``corpora`` extra (``pip install audiokit[corpora]``: espeakng-loader, pedalboard).
"""
from audiokit.corpora.fx import make_fx
from audiokit.corpora.speech import make_speech

CORPORA = {"speech": make_speech, "fx": make_fx}

__all__ = ["CORPORA", "make_speech", "make_fx"]
