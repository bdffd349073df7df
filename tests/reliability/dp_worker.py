"""A domain sampler under data-parallel sampling (tests/reliability/test_determinism.py).

    python -m torch.distributed.run --nproc_per_node=2 tests/reliability/dp_worker.py OUT_DIR

Rank r generates its block of the per-sample seeds with ``sample_data_parallel`` (vision
class-conditional generation, ancestral sampling, one generator per image); rank 0 writes the
gathered batch to ``OUT_DIR/dp.safetensors``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

SEEDS = [17, 3, 99, 42, 5]


def make_net():
    from polydiff.vision.nets import UNet

    torch.manual_seed(0)
    net = UNet(base=8, mults=(1, 2), attention_levels=(), groups=4, num_classes=3).eval()
    torch.nn.init.normal_(net.out.weight, std=0.1)  # not the zero init: samples depend on the net
    return net


def generate_fn(net):
    """``fn(seeds) -> images``: image ``i`` depends only on ``seeds[i]`` (its label and its noise)."""
    from polydiff.vision._common import default_process
    from polydiff.vision.generate import generate

    proc = default_process()

    def fn(seeds: list[int]) -> torch.Tensor:
        labels = torch.tensor([s % 3 for s in seeds])
        gens = [torch.Generator().manual_seed(s) for s in seeds]
        return generate(net, proc, labels, scale=2.0, steps=4, solver="ddpm", shape=(1, 8, 8), generator=gens)

    return fn


def main(out: Path) -> None:
    from polydiff.core.training import sample_data_parallel
    from polydiff.core.training.distributed import cleanup, setup_distributed
    from safetensors.torch import save_file

    torch.set_num_threads(1)
    setup_distributed("cpu")
    samples = sample_data_parallel(generate_fn(make_net()), len(SEEDS), SEEDS)
    if torch.distributed.get_rank() == 0:
        save_file({"samples": samples.contiguous()}, str(out / "dp.safetensors"))
    cleanup()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
