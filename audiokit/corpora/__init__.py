"""Corpora: the offline generators (no network, deterministic for a seed, resumable) and real corpora
(download + prepare).

``CORPORA`` maps a corpus name to its maker, ``make(out_dir, size=..., seed=..., sample_rate=...,
progress=...) -> Path``; the CLI dispatches on it (``audiokit corpus make speech|fx|music|ambisonics --out DIR``):

* ``speech`` — :func:`audiokit.corpora.speech.make_speech`: eSpeak NG digit strings and sentences,
  Kaldi data dirs with held-out speakers (ASR, speaker and SSL recipes).
* ``fx`` — :func:`audiokit.corpora.fx.make_fx`: dry/wet pairs through pedalboard's compressor and
  distortion, with knob values and held-out knob ranges in the test split (effect-modelling recipes).

* ``music`` — :func:`audiokit.corpora.music.make_music`: music21's four-part Bach chorales rendered voice
  by voice through a General MIDI soundfont (midirenderer + pretty_midi's TimGM6mb.sf2), stems
  ``soprano alto tenor bass contrabass drums`` + mixture, split by piece and tune (separation recipes).
* ``ambisonics`` — :func:`audiokit.corpora.ambisonics.make_ambisonics`: 16-channel third-order Ambisonics
  scenes (AmbiX) of 1-3 talkers and music stems from the two corpora above, some moving, in diffuse noise,
  with held-out speakers and pieces in the test split (multichannel codec recipes).

All need the ``corpora`` extra (``pip install audiokit[corpora]``: espeakng-loader, pedalboard, music21,
pretty_midi, midirenderer).

Real corpora have a downloader, ``download(root, progress=...) -> Path`` (``audiokit corpus download NAME
--root DIR``; a copy already under ``root`` is used as is), and a preparer, ``prepare(root, out,
progress=...) -> Path``, writing Kaldi data dirs (``audiokit corpus prepare NAME --root DIR --out DIR``):

* ``signaltrain`` — :mod:`audiokit.corpora.signaltrain`: the SignalTrain LA2A Dataset 1.1 (a Teletronix
  LA-2A, knobs ``limit`` and ``peak_reduction``) as paired effect data dirs.
* ``librispeech`` — :mod:`audiokit.corpora.librispeech`: LibriSpeech (OpenSLR 12), a speech data dir per part
  (``dev-clean``, ``test-clean``, ``train-clean-100`` by default).
* ``libritts`` — :mod:`audiokit.corpora.libritts`: LibriTTS (OpenSLR 60), a speech data dir per part with the
  normalized text.
* ``musdb18hq`` — :mod:`audiokit.corpora.musdb18hq`: MUSDB18-HQ (Zenodo 3338373), separation data dirs
  ``train``, ``valid`` (musdb's 14 validation tracks) and ``test`` with stems ``drums bass other vocals``.
"""
from audiokit.corpora.ambisonics import make_ambisonics
from audiokit.corpora.fx import make_fx
from audiokit.corpora.librispeech import download_librispeech, prepare_librispeech
from audiokit.corpora.libritts import download_libritts, prepare_libritts
from audiokit.corpora.musdb18hq import download_musdb18hq, prepare_musdb18hq
from audiokit.corpora.music import make_music
from audiokit.corpora.signaltrain import download_signaltrain, prepare_signaltrain
from audiokit.corpora.speech import make_speech

CORPORA = {"speech": make_speech, "fx": make_fx, "music": make_music, "ambisonics": make_ambisonics}
DOWNLOADERS = {"signaltrain": download_signaltrain, "librispeech": download_librispeech,
               "libritts": download_libritts, "musdb18hq": download_musdb18hq}
PREPARERS = {"signaltrain": prepare_signaltrain, "librispeech": prepare_librispeech, "libritts": prepare_libritts,
             "musdb18hq": prepare_musdb18hq}

__all__ = ["CORPORA", "DOWNLOADERS", "PREPARERS", "make_speech", "make_fx", "make_music", "make_ambisonics",
           "download_signaltrain", "prepare_signaltrain", "download_librispeech", "prepare_librispeech",
           "download_libritts", "prepare_libritts", "download_musdb18hq", "prepare_musdb18hq"]
