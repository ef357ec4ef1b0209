"""Kaldi data directories, datasets, samplers and the one dataloader builder."""
