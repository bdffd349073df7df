"""A writer killed while saving a network leaves no folder that a benchmark cache would accept.

The domains' bench caches take a folder as trained when ``model.safetensors`` exists
(vision/robustness ``save_net``, text ``save_model``). A crash is simulated by a
``save_file`` that writes half of its bytes and dies: the weights file must then be absent,
so the next run retrains instead of failing on (or silently loading) a half-written folder.
"""
import pytest
import safetensors.torch
import torch


class _Killed(BaseException):
    """Stands for SIGKILL: not an Exception, so nothing on the way catches it."""


def _dying_save_file(tensors, filename, metadata=None):
    data = safetensors.torch.save(tensors, metadata=metadata)
    with open(filename, "wb") as f:
        f.write(data[: len(data) // 2])
    raise _Killed


def test_vision_save_net_killed_mid_write(tmp_path, monkeypatch):
    pytest.importorskip("polydiff.vision")
    from polydiff.vision.nets import UNet, load_net, save_net

    net = UNet(base=8, mults=(1, 2), attention_levels=(), groups=4)
    monkeypatch.setattr(safetensors.torch, "save_file", _dying_save_file)
    with pytest.raises(_Killed):
        save_net(net, tmp_path / "net")
    assert not (tmp_path / "net" / "model.safetensors").exists()  # the cache sees no trained net
    monkeypatch.undo()
    save_net(net, tmp_path / "net")  # the rerun completes the folder
    again = load_net(tmp_path / "net")
    for a, b in zip(net.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    assert not list((tmp_path / "net").glob("*.tmp"))


def test_text_save_model_killed_mid_write(tmp_path, monkeypatch):
    pytest.importorskip("polydiff.text")
    from polydiff.text.diffusion_lm import DiffusionLM, EmbeddingDiffusionConfig
    from polydiff.text.tokenizer import train_tokenizer

    tok = train_tokenizer([f"a {w} near the river number {i} ." for i, w in enumerate(["pub", "cafe"] * 50)], 300)
    m = DiffusionLM(EmbeddingDiffusionConfig(vocab_size=tok.vocab_size, seq_len=8, emb_dim=4, hidden=8, layers=1,
                                             heads=2, T=10), tok)
    monkeypatch.setattr(safetensors.torch, "save_file", _dying_save_file)
    with pytest.raises(_Killed):
        m.save(tmp_path / "lm")
    assert not (tmp_path / "lm" / "model.safetensors").exists()
    monkeypatch.undo()
    m.save(tmp_path / "lm")
    again = DiffusionLM.load(tmp_path / "lm")
    for a, b in zip(m.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
