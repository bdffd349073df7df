"""MaskGIT confidence-ordered decoding: most confident first, cosine schedule, fixed slots kept."""
import math

import pytest
import torch
from polydiff.text.decoding import confidence_sample

MASK, V = 0, 6


class Peaked(torch.nn.Module):
    """Slot i predicts token (i % 5) + 1 with a confidence that grows with i."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, z, t):
        self.calls.append(z.clone())
        B, L = z.shape
        logits = torch.zeros(B, L, V)
        for i in range(L):
            logits[:, i, i % 5 + 1] = 1.0 + i
        return logits


def test_reveals_most_confident_first_on_the_cosine_schedule():
    model = Peaked()
    x = torch.zeros(2, 8, dtype=torch.long)
    fixed = torch.zeros(2, 8, dtype=torch.bool)
    x[:, 0], fixed[:, 0] = 5, True  # a given token
    out = confidence_sample(model, x, fixed, steps=4, mask_id=MASK)
    assert torch.equal(out[:, 0], torch.tensor([5, 5]))
    assert torch.equal(out[:, 1:], torch.tensor([[i % 5 + 1 for i in range(1, 8)]] * 2))
    still = [int((z[0] == MASK).sum()) for z in model.calls]
    # 7 free slots: ceil(7 cos(pi k / 8)) stay masked after step k = 1, 2, 3 (6.47, 4.95, 2.68),
    # but every step reveals at least one slot (MaskGIT's max(1, ...)): 7 -> 6, then 5, 3
    want = [7]
    for k in (1, 2, 3):
        want.append(min(math.ceil(7 * math.cos(math.pi * k / 8)), want[-1] - 1))
    assert still == want == [7, 6, 5, 3]
    for a, b in zip(model.calls, model.calls[1:]):
        revealed = (a == MASK) & (b != MASK)
        cols = revealed[0].nonzero().flatten()
        left = (b[0] == MASK).nonzero().flatten()
        assert len(left) == 0 or cols.min() > left.max()  # the high-index (confident) slots went first
        assert torch.equal(b[a != MASK], a[a != MASK])  # revealed tokens never change


def test_one_step_reveals_everything_and_bad_input():
    x = torch.zeros(1, 5, dtype=torch.long)
    fixed = torch.zeros(1, 5, dtype=torch.bool)
    assert not (confidence_sample(Peaked(), x, fixed, steps=1, mask_id=MASK) == MASK).any()
    with pytest.raises(ValueError, match="steps must be an integer >= 1, got 0"):
        confidence_sample(Peaked(), x, fixed, steps=0, mask_id=MASK)
    with pytest.raises(ValueError, match="fixed slots hold the mask id"):
        confidence_sample(Peaked(), x, torch.ones(1, 5, dtype=torch.bool), steps=2, mask_id=MASK)
    with pytest.raises(ValueError, match="fixed must be a bool tensor of shape"):
        confidence_sample(Peaked(), x, fixed[:, :3], steps=2, mask_id=MASK)
    with pytest.raises(TypeError, match="long tensor"):
        confidence_sample(Peaked(), x.float(), fixed, steps=2, mask_id=MASK)
