import pytest
import torch
from polydiff.vision.nets import (
    Classifier,
    UNet,
    UNetConfig,
    load_net,
    save_net,
    timestep_embedding,
)


def test_timestep_embedding_formula():
    e = timestep_embedding(torch.tensor([0.0, 3.0]), 4)
    # dims: [cos(t), cos(t/100), sin(t), sin(t/100)] for max_period 1e4, half = 2
    ref = torch.tensor([[1.0, 1.0, 0.0, 0.0],
                        [torch.cos(torch.tensor(3.0)), torch.cos(torch.tensor(0.03)),
                         torch.sin(torch.tensor(3.0)), torch.sin(torch.tensor(0.03))]])
    assert torch.allclose(e, ref, atol=1e-6)


def test_unet_shapes_features_and_conditioning():
    net = UNet(base=8, mults=(1, 2), attention_levels=(1,), num_classes=3, cond_channels=1, groups=4)
    x, xc = torch.randn(2, 1, 8, 8), torch.randn(2, 1, 8, 8)
    t, y = torch.tensor([1.0, 500.0]), torch.tensor([0, 3])
    assert net(x, t, y=y, x_cond=xc).shape == (2, 1, 8, 8)
    feats = net.features(x, t, y=y, x_cond=xc)
    assert [f.shape[-1] for f in feats] == [4, 8] and feats[0].shape[1] == 16
    assert net.null_class == 3


def test_unet_outputs_depend_on_class_and_condition():
    torch.manual_seed(0)
    net = UNet(base=8, mults=(1, 2), attention_levels=(), num_classes=2, cond_channels=1, groups=4)
    for p in net.parameters():  # the output conv is zero-initialised: perturb everything
        torch.nn.init.normal_(p, std=0.1)
    x, xc, t = torch.randn(1, 1, 8, 8), torch.randn(1, 1, 8, 8), torch.tensor([10.0])
    a = net(x, t, y=torch.tensor([0]), x_cond=xc)
    assert not torch.allclose(a, net(x, t, y=torch.tensor([1]), x_cond=xc))
    assert not torch.allclose(a, net(x, t, y=torch.tensor([0]), x_cond=xc + 1))


@pytest.mark.parametrize("kwargs,err", [
    ({"x": torch.randn(2, 8, 8)}, ValueError),                 # wrong rank
    ({"x": torch.randn(2, 1, 7, 8)}, ValueError),              # not divisible by 2
    ({"y": torch.tensor([0, 5])}, ValueError),                 # class id beyond the null class
    ({"x_cond": None}, ValueError),                            # missing conditioning image
])
def test_unet_rejects_bad_inputs(kwargs, err):
    net = UNet(base=8, mults=(1, 2), attention_levels=(), num_classes=3, cond_channels=1, groups=4)
    args = {"x": torch.randn(2, 1, 8, 8), "t": torch.ones(2), "y": torch.tensor([0, 1]), "x_cond": torch.randn(2, 1, 8, 8)}
    args.update(kwargs)
    with pytest.raises(err):
        net(**args)


def test_config_validation():
    with pytest.raises(ValueError):
        UNetConfig(base=10, groups=8)
    with pytest.raises(ValueError):
        UNetConfig(mults=(1, 2), attention_levels=(3,))


def test_save_load_roundtrip(tmp_path):
    torch.manual_seed(0)
    net = UNet(base=8, mults=(1, 2), attention_levels=(1,), groups=4)
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.1)
    save_net(net, tmp_path / "u")
    back = load_net(tmp_path / "u")
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([3.0, 700.0])
    assert torch.equal(net(x, t), back(x, t)) and back.config == net.config
    clf = Classifier(num_classes=4, width=8)
    save_net(clf, tmp_path / "c")
    assert torch.equal(clf(x.clamp(0, 1)), load_net(tmp_path / "c")(x.clamp(0, 1)))
    assert not any(p.suffix in (".pt", ".pkl", ".bin") for p in (tmp_path / "u").iterdir())
