"""A truncated or corrupt weights file names the file (vision networks, text models)."""
import pytest
import torch


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_truncated_vision_weights_name_the_file(tmp_path):
    pytest.importorskip("polydiff.vision")
    from polydiff.vision.nets import Classifier, ClassifierConfig, load_net, save_net

    torch.manual_seed(0)
    save_net(Classifier(ClassifierConfig(width=8)), tmp_path)
    assert isinstance(load_net(tmp_path), Classifier)
    _truncate(tmp_path / "model.safetensors")
    with pytest.raises(ValueError, match=r"model\.safetensors: truncated"):
        load_net(tmp_path)


def test_corrupt_text_weights_name_the_file(tmp_path):
    pytest.importorskip("polydiff.text")
    from polydiff.text.diffusion_lm import load_model_files
    from polydiff.text.tokenizer import train_tokenizer
    from polydiff.text.train import build_model

    tok = train_tokenizer([f"the {w} eats food number {i} ." for i, w in enumerate(["cat", "dog"] * 40)], 300)
    model = build_model("ar", tok, src_len=8, tgt_len=8, hidden=8, layers=1, heads=2)
    model.save(tmp_path)
    load_model_files(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    with pytest.raises(ValueError, match=r"model\.safetensors: not a safetensors file"):
        load_model_files(tmp_path)
