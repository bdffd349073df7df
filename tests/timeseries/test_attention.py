"""timeseries.attention.EncoderLayer equals torch's nn.TransformerEncoderLayer (the reference's)."""
import pytest
import torch
from polydiff.timeseries.attention import EncoderLayer
from torch import nn


def _pair(dropout: float):
    torch.manual_seed(0)
    ref = nn.TransformerEncoderLayer(32, 4, dim_feedforward=16, dropout=dropout, activation="gelu",
                                     batch_first=True)
    ours = EncoderLayer(32, 4, 16, dropout)
    ours.load_state_dict(ref.state_dict())  # same parameter names: strict load
    return ref, ours


def test_same_outputs_and_gradients_as_torch_layer():
    ref, ours = _pair(0.0)
    x = torch.randn(6, 11, 32, requires_grad=True)
    y_ref, y = ref(x), ours(x)
    assert torch.allclose(y, y_ref, atol=1e-5)
    g_ref = torch.autograd.grad(y_ref.square().sum(), [x, *ref.parameters()])
    g = torch.autograd.grad(y.square().sum(), [x, *ours.parameters()])
    for a, b in zip(g, g_ref):
        assert torch.allclose(a, b, atol=1e-4)
    ref.eval(), ours.eval()
    with torch.inference_mode():  # torch's fused fast path on the other side
        assert torch.allclose(ours(x.detach()), ref(x.detach()), atol=1e-5)


def test_dropout_only_in_training():
    _, ours = _pair(0.5)
    x = torch.randn(4, 7, 32)
    ours.train()
    assert not torch.allclose(ours(x), ours(x))
    ours.eval()
    assert torch.equal(ours(x), ours(x))
    with pytest.raises(ValueError, match="divisible"):
        EncoderLayer(30, 4, 16)
