"""audiokit: one PyTorch toolkit for audio and speech models, trained by recipe."""
from pathlib import Path

from setuptools import find_packages, setup

here = Path(__file__).parent
version = {}
exec((here / "audiokit" / "version.py").read_text(), version)

setup(
    name="audiokit",
    version=version["__version__"],
    description="PyTorch toolkit for audio and speech: codecs, separation, effects, ASR, SSL",
    long_description=(here / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["audiokit", "audiokit.*"]),
    package_data={"audiokit": ["conf/**/*.yaml"]},
    install_requires=[
        "torch>=2.9",
        "torchaudio>=2.9",
        "numpy>=1.24",
        "scipy>=1.10",
        "soundfile>=0.12",
        "librosa>=0.10",
        "auraloss>=0.4",
        "hydra-core>=1.3",
        "omegaconf>=2.3",
        "lightning>=2.4",
        "torchdata>=0.8",
        "tqdm>=4.60",
        "rich>=13",
        "tensorboard>=2.14",
    ],
    extras_require={
        # Offline corpora: eSpeak NG speech (library shipped on PyPI), real effect processors, and Bach
        # chorales (music21's corpus) rendered through pretty_midi's soundfont by midirenderer (a wheel
        # with no dependencies; tinysoundfont would pull PyAudio, which needs Debian's portaudio19-dev).
        "corpora": ["espeakng-loader>=0.2", "pedalboard>=0.9", "music21>=9.1", "pretty_midi>=0.2.10",
                    "midirenderer>=0.1.3"],
        # Plugin export beyond TorchScript: ONNX (exporter + runtime for the verifier).
        "export": ["onnx>=1.16", "onnxscript>=0.2", "onnxruntime>=1.18"],
        # Codec metrics: wide-band PESQ (a C extension built from its sdist) and STOI.
        "codec-metrics": ["pesq>=0.0.4", "pystoi>=0.4"],
        # The Neutone plugin format; neutone-sdk pins numpy < 2.3, so it stays out of the default set.
        "neutone": ["neutone-sdk>=1.5"],
        # test/dev include every export format (neutone-sdk brings numpy < 2.3 into those environments)
        "test": ["pytest>=7", "pytest-timeout>=2", "pyloudnorm>=0.1", "espeakng-loader>=0.2", "pedalboard>=0.9",
                 "music21>=9.1", "pretty_midi>=0.2.10", "midirenderer>=0.1.3",
                 "onnx>=1.16", "onnxscript>=0.2", "onnxruntime>=1.18", "neutone-sdk>=1.5", "museval>=0.4",
                 "pesq>=0.0.4", "pystoi>=0.4",
                 # the reference implementations the parity tests compare with (random weights, nothing downloaded)
                 "encodec>=0.1.1", "demucs>=4.1"],
        "dev": ["pytest>=7", "pytest-timeout>=2", "pyloudnorm>=0.1", "ruff>=0.5", "espeakng-loader>=0.2",
                "pedalboard>=0.9",
                "music21>=9.1", "pretty_midi>=0.2.10", "midirenderer>=0.1.3",
                "onnx>=1.16", "onnxscript>=0.2", "onnxruntime>=1.18", "neutone-sdk>=1.5", "museval>=0.4",
                 "pesq>=0.0.4", "pystoi>=0.4",
                 # the reference implementations the parity tests compare with (random weights, nothing downloaded)
                 "encodec>=0.1.1", "demucs>=4.1"],
    },
    entry_points={"console_scripts": ["audiokit=audiokit.cli:main"]},
)
