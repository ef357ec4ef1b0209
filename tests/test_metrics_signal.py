"""Effect metrics against their definitions and auraloss."""
from __future__ import annotations

import math

import auraloss
import torch

from audiokit.metrics import esr, l1, loudness_error, mrstft


def test_esr_matches_its_definition_and_auraloss():
    torch.manual_seed(0)
    target, pred = torch.randn(2, 1, 4000), torch.randn(2, 1, 4000)
    expected = ((target - pred) ** 2).sum(-1) / (target**2).sum(-1)
    assert torch.allclose(esr(pred, target).reshape(-1), expected.reshape(-1), rtol=1e-5)
    per_example = [float(auraloss.time.ESRLoss()(pred[i : i + 1], target[i : i + 1])) for i in range(2)]
    assert torch.allclose(esr(pred, target).reshape(-1), torch.tensor(per_example), rtol=1e-5)


def test_l1_and_mrstft_are_zero_only_for_equal_signals():
    x = torch.randn(1, 1, 8000)
    assert float(l1(x, x)) == 0 and float(mrstft(x, x)) < 1e-6
    assert float(l1(x, 0.5 * x)) > 0.1 and float(mrstft(x, 0.5 * x)) > 0.1


def test_loudness_error_is_the_level_difference_in_lu():
    torch.manual_seed(0)
    x = 0.1 * torch.randn(1, 1, 48000)
    assert abs(float(loudness_error(0.5 * x, x, 48000)) - 20 * math.log10(2)) < 1e-6  # 6.02 LU
    assert float(loudness_error(x, x, 48000)) == 0.0
    silent = torch.zeros(1, 1, 48000)
    assert float(loudness_error(silent, silent, 48000)) == 0.0
    assert math.isinf(float(loudness_error(silent, x, 48000)))
