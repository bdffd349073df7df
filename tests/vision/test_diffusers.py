"""A diffusers UNet2DModel saved to a folder samples through polydiff like diffusers' DDIM loop."""
import pytest
import torch

diffusers = pytest.importorskip("diffusers")

import polydiff.core as pc
from polydiff.vision.nets import from_diffusers


def _tiny_unet(seed: int):
    torch.manual_seed(seed)
    unet = diffusers.UNet2DModel(sample_size=8, in_channels=1, out_channels=1, layers_per_block=1,
                                 block_out_channels=(8, 16), norm_num_groups=4,
                                 down_block_types=("DownBlock2D", "DownBlock2D"),
                                 up_block_types=("UpBlock2D", "UpBlock2D"))
    with torch.no_grad():  # diffusers zero-inits nothing here, but make the output non-trivial
        for p in unet.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return unet.eval()


@pytest.mark.parametrize("spacing,steps", [("leading", 10)])
def test_from_diffusers_matches_ddim_pipeline_loop(tmp_path, spacing, steps):
    # The loop below is DDIMPipeline.__call__ without its final [0, 1] rescaling.
    unet = _tiny_unet(0)
    sched = diffusers.DDIMScheduler(num_train_timesteps=1000, beta_schedule="linear", clip_sample=False,
                                    set_alpha_to_one=False, steps_offset=1, timestep_spacing=spacing)
    unet.save_pretrained(tmp_path / "unet")  # the layout DDIMPipeline.save_pretrained writes
    sched.save_pretrained(tmp_path / "scheduler")

    den, process, prediction = from_diffusers(tmp_path)
    assert prediction == "eps"
    x_T = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(3))

    ref_sched = diffusers.DDIMScheduler.from_pretrained(tmp_path / "scheduler")
    ref_sched.set_timesteps(steps)
    x = x_T.clone()
    with torch.no_grad():
        for t in ref_sched.timesteps:
            eps = unet(x, t).sample
            x = ref_sched.step(eps, t, x, eta=0.0).prev_sample
        ours = pc.sample(den, process, x_T, steps=steps, solver="ddim", prediction=prediction)
    assert torch.allclose(ours, x, atol=1e-4), float((ours - x).abs().max())


def test_from_diffusers_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        from_diffusers(tmp_path)
