"""The TCN effect model: streaming equals offline, causality, receptive field, learning."""
from __future__ import annotations

import random

import pytest
import torch

from audiokit.models.effects import TCN, micro_tcn_300
from audiokit.train.checkpoint import CheckpointError, load_model, read_checkpoint, save_model


def small_tcn(**kw):
    args = dict(sample_rate=8000, num_knobs=2, num_blocks=3, channels=8, kernel_size=5, dilation_growth=3)
    return TCN(**{**args, **kw})


def test_paper_configuration_receptive_field():
    # micro-TCN's TCN-300-C: 13 + 12*(10 + 100 + 1000) = 13,333 samples = 302 ms at 44.1 kHz
    assert micro_tcn_300().receptive_field == 13333


def test_streaming_equals_offline_random_block_sizes():
    torch.manual_seed(0)
    model = small_tcn().eval()
    x, knobs = torch.randn(2, 1, 9000), torch.rand(2, 2)
    with torch.no_grad():
        offline = model(x, knobs)
        rng = random.Random(0)
        state, out, i = model.init_state(2), [], 0
        while i < x.shape[-1]:
            n = rng.choice([1, 2, 7, 64, 513, 4096])
            y, state = model.step(x[..., i : i + n], knobs, state)
            out.append(y)
            i += n
    assert (torch.cat(out, -1) - offline).abs().max() < 1e-5


def test_causal_and_receptive_field_by_gradients():
    torch.manual_seed(0)
    model = small_tcn().eval()
    x = torch.randn(1, 1, 400, requires_grad=True)
    t = 300
    model(x, torch.rand(1, 2))[0, 0, t].backward()
    support = (x.grad[0, 0] != 0).nonzero().flatten()
    assert support.max() == t  # nothing after t influences y[t]
    assert t - support.min() + 1 == model.receptive_field  # 1 + 4*(1 + 3 + 9) = 53


def test_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        read_checkpoint(tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read .*junk.pt"):
        read_checkpoint(tmp_path / "junk.pt")
    save_model(tmp_path / "evil.pt", small_tcn(), "os.system", {}, family="effects", sample_rate=8000)
    with pytest.raises(CheckpointError, match="refusing to import 'os.system'"):
        load_model(tmp_path / "evil.pt")
