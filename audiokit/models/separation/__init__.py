"""Separation models: a mixture in, one waveform per source out (see :mod:`.base` for the contract)."""
from audiokit.models.separation.base import SeparationModule
from audiokit.models.separation.demucs import Demucs, demucs_paper, demucs_tiny
from audiokit.models.separation.streaming import DemucsStreamer
from audiokit.models.separation.wave_unet import WaveUNet, wave_unet_paper, wave_unet_tiny

__all__ = ["Demucs", "DemucsStreamer", "SeparationModule", "WaveUNet", "demucs_paper", "demucs_tiny", "wave_unet_paper",
           "wave_unet_tiny"]
