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


def test_batched_equals_single():
    torch.manual_seed(0)
    model = small_tcn().eval()
    x, knobs = torch.randn(3, 1, 1000), torch.rand(3, 2)
    with torch.no_grad():
        batched = model(x, knobs)
        single = torch.cat([model(x[i : i + 1], knobs[i : i + 1]) for i in range(3)])
    assert (batched - single).abs().max() < 1e-6


def test_knobs_change_the_output_and_shapes_are_checked():
    model = small_tcn().eval()
    x = torch.randn(1, 1, 500)
    with torch.no_grad():
        a, b = model(x, torch.zeros(1, 2)), model(x, torch.ones(1, 2))
    assert (a - b).abs().max() > 1e-3
    with pytest.raises(ValueError, match=r"expected audio of shape \(batch, 1, time\), got \(1, 500\)"):
        model(x[0], torch.zeros(1, 2))
    with pytest.raises(ValueError, match=r"expected knobs of shape \(1, 2\), got \(1, 3\)"):
        model(x, torch.zeros(1, 3))


def test_overfits_one_batch():
    torch.manual_seed(0)
    model = small_tcn(num_knobs=1)
    x = torch.randn(4, 1, 2000) * 0.5
    drive = torch.tensor([[0.0], [0.3], [0.6], [1.0]])
    target = torch.tanh(x * (1 + 4 * drive[..., None])) * 0.8  # a knob-dependent saturation
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(150):
        loss = torch.nn.functional.mse_loss(model(x, drive), target)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.02 * first


def test_checkpoint_round_trip_weights_only(tmp_path):
    model = small_tcn()
    args = dict(sample_rate=8000, num_knobs=2, num_blocks=3, channels=8, kernel_size=5, dilation_growth=3)
    save_model(tmp_path / "m.pt", model, "audiokit.models.effects.tcn.TCN", args, family="effects",
               sample_rate=8000, metadata={"knobs": []})
    ckpt = torch.load(tmp_path / "m.pt", weights_only=True)
    assert ckpt["target"] == "audiokit.models.effects.tcn.TCN" and ckpt["args"] == args
    loaded, _ = load_model(tmp_path / "m.pt")
    x, k = torch.randn(1, 1, 300), torch.rand(1, 2)
    with torch.no_grad():
        assert torch.equal(loaded(x, k), model.eval()(x, k))
    assert not list(tmp_path.glob(".*tmp*"))  # no temp file left behind


def test_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        read_checkpoint(tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read .*junk.pt"):
        read_checkpoint(tmp_path / "junk.pt")
    save_model(tmp_path / "evil.pt", small_tcn(), "os.system", {}, family="effects", sample_rate=8000)
    with pytest.raises(CheckpointError, match="refusing to import 'os.system'"):
        load_model(tmp_path / "evil.pt")
