"""Trained conformer generators as pipelines (:mod:`polydiff.core.pipeline`).

:class:`ConformerPipeline` is :class:`~polydiff.molecules.pipeline.ConformerGenerator` (GeoDiff,
Xu et al. 2022: a denoiser of atom coordinates given the 2D graph) in the pipeline format,
saved and loaded without pickle. Its folder holds::

    net/config.json, net/weights.safetensors   NetConfig (kind, widths, stereo, true_scale) + weights
    process/config.json                        the DiscreteVP it was trained with (betas)
    featurizer/config.json                     the vocabularies of its inputs (checked on load)
    stats/config.json                          the training molecules' heavy-atom range
    sampler/config.json                        eps prediction, solver, steps, conformers per
                                               molecule, stereo filter rounds, Restart, relax

Usage::

    pipe = ConformerPipeline.from_run("runs/geodiff-qm9", steps=50)  # a `polydiff train molecules` run
    pipe.save_pretrained("pretrained/geodiff-qm9")
    pipe = ConformerPipeline.from_pretrained("pretrained/geodiff-qm9")
    mols = pipe(["C[C@H](N)C(=O)O", "OC/C=C/C"], seed=0)  # Mols with pipe.n_conformers conformers

From the command line: ``polydiff conformers`` (:mod:`polydiff.molecules.commands`).
"""
from __future__ import annotations

import dataclasses
import math
import numbers
import os
from typing import Any, ClassVar

import torch
from polydiff.core.pipeline import Component, ModelCard, Pipeline, PipelineError

from .generate import GenerationStats
from .pipeline import ConformerGenerator

__all__ = ["ConformerPipeline"]

_SAMPLER_KEYS = ("solver", "steps", "stereo_rounds", "restarts", "restart_noise", "restart_steps", "relax")


def _net_component(net: torch.nn.Module) -> Component:
    return Component(net.config.to_dict(), {k: v.detach() for k, v in net.state_dict().items()})


def _net_from(component: Component, device: str | torch.device) -> torch.nn.Module:
    from polydiff.core.training.checkpoint import load_weights

    from .nets import NetConfig, build_net

    cfg = component.config
    unknown = sorted(set(cfg) - {f.name for f in dataclasses.fields(NetConfig)})
    if unknown:
        raise PipelineError(f"net/config.json: unknown NetConfig keys {unknown}")
    try:
        net = build_net(NetConfig(**cfg))
    except (TypeError, ValueError) as e:
        raise PipelineError(f"net/config.json: {e}") from None
    load_weights(net, component.tensors, "net/weights.safetensors")  # keys and shapes checked
    return net.to(device).eval()


def _check_featurizer(config: dict[str, Any]) -> None:
    from .featurize import featurizer_config

    ours = featurizer_config()
    differ = sorted(k for k in set(ours) | set(config) if ours.get(k) != config.get(k))
    if differ:
        raise PipelineError(
            f"featurizer/config.json: the network was trained on other input features ({', '.join(differ)} "
            f"differ, e.g. {differ[0]}: saved {config.get(differ[0])!r}, this polydiff "
            f"{ours.get(differ[0])!r}); load it with the polydiff version that saved it")


def _check_settings(gen: ConformerGenerator) -> None:
    """The sampler settings of ``gen`` as :func:`~polydiff.molecules.generate.generate_conformers`
    checks them, but at construction (a pipeline must not save what it cannot apply)."""
    import polydiff.core as pc
    from polydiff.core.validate import check_int

    if gen.solver not in pc.SOLVERS:
        raise ValueError(f"solver must be one of {sorted(pc.SOLVERS)}, got {gen.solver!r}")
    check_int(gen.steps, "steps", low=1)
    check_int(gen.stereo_rounds, "stereo_rounds", low=0)
    check_int(gen.restarts, "restarts", low=0)
    check_int(gen.restart_steps, "restart_steps", low=1)
    noise = gen.restart_noise
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real) or not 0 < noise < math.inf:
        raise ValueError(f"restart_noise must be a finite number > 0, got {noise!r}")
    if gen.relax not in (None, "mmff"):
        raise ValueError(f"relax must be None or 'mmff', got {gen.relax!r}")
    pc.build_grid(gen.process, gen.steps, gen.solver)  # steps within the process ("steps must lie in ...")
    if gen.restarts:  # restart_noise within the prior, restart_steps after it (as every call checks)
        from .generate import _noise_time

        _noise_time(gen.process, noise, gen.restart_steps, gen.solver, "restart_noise")


class ConformerPipeline(Pipeline):
    """Conformers from 2D molecules: ``pipe(smiles_or_mols) -> Mol(s) with n conformers``.

    Args:
        generator: the trained denoiser with its process and sampler settings; its ``net``
            must be a :mod:`polydiff.molecules.nets` network (it has a ``NetConfig``) and its
            ``process`` a core process (it has ``config()``).
        n_conformers: conformers per molecule when a call does not say.
        card: the model card.
    """

    component_names: ClassVar[tuple[str, ...]] = ("net", "process", "featurizer", "stats", "sampler")

    def __init__(self, generator: ConformerGenerator, *, n_conformers: int = 10, card: ModelCard | None = None):
        from polydiff.core.validate import check_int, describe

        from .nets import NetConfig

        if not isinstance(generator, ConformerGenerator):
            raise TypeError(f"generator must be a polydiff.molecules.pipeline.ConformerGenerator, "
                            f"got {describe(generator)}")
        if not isinstance(getattr(generator.net, "config", None), NetConfig):
            raise TypeError(f"generator.net must be a polydiff.molecules.nets network (GeoDiffNet, E3Net) "
                            f"with a NetConfig, got {describe(generator.net)}")
        if not callable(getattr(generator.process, "config", None)):
            raise TypeError(f"generator.process must be a polydiff.core process, got {describe(generator.process)}")
        _check_settings(generator)
        self.n_conformers = check_int(n_conformers, "n_conformers", low=1)
        self.generator = generator
        generator.net.eval()
        self.card = card if card is not None else ModelCard()

    @property
    def net(self) -> torch.nn.Module:
        """The denoiser (``net(pos, t, batch) -> eps``)."""
        return self.generator.net

    @property
    def device(self) -> torch.device:
        """Where the denoiser's weights live (and its sampling noise is drawn)."""
        return next(self.net.parameters()).device

    @torch.no_grad()
    def __call__(self, molecules, n: int | None = None, *, seed: int = 0, steps: int | None = None,
                 solver: str | None = None, first_index: int = 0, stats: GenerationStats | None = None):
        """``n`` (default ``n_conformers``) conformers of each molecule, a SMILES or ``Mol`` or a list.

        ``steps``/``solver`` override the saved defaults; ``seed`` and ``first_index`` seed
        conformer ``k`` of molecule ``m`` with ``(seed, first_index + m, k)``
        (:meth:`ConformerGenerator.__call__`). Returns a ``Mol`` or a list of them.
        """
        gen = self.generator
        if steps is not None or solver is not None:
            gen = dataclasses.replace(gen, steps=gen.steps if steps is None else steps,
                                      solver=gen.solver if solver is None else solver)
        return gen(molecules, self.n_conformers if n is None else n, seed=seed, stats=stats,
                   first_index=first_index)

    # --- the pipeline format ----------------------------------------------------------------
    def components(self) -> dict[str, Component]:
        from .featurize import featurizer_config

        gen = self.generator
        sampler = {"prediction": "eps", "n_conformers": self.n_conformers,
                   **{k: getattr(gen, k) for k in _SAMPLER_KEYS}}
        sizes = None if gen.heavy_atom_range is None else list(gen.heavy_atom_range)
        return {"net": _net_component(gen.net), "process": Component(gen.process.config()),
                "featurizer": Component(featurizer_config()), "stats": Component({"heavy_atoms": sizes}),
                "sampler": Component(sampler)}

    @classmethod
    def from_components(cls, components: dict[str, Component], device: str | torch.device) -> ConformerPipeline:
        from polydiff.core import process_from_config

        _check_featurizer(components["featurizer"].config)
        s = components["sampler"].config
        if s.get("prediction") != "eps":
            raise PipelineError(f"sampler/config.json: prediction {s.get('prediction')!r} is not 'eps'")
        missing = sorted(set(_SAMPLER_KEYS) - set(s))
        if missing:
            raise PipelineError(f"sampler/config.json: lacks the keys {missing}")
        stats = components["stats"].config
        if "heavy_atoms" not in stats:
            raise PipelineError(f"stats/config.json: lacks the key 'heavy_atoms' (the training molecules' "
                                f"heavy-atom range, or null when unknown), got the keys {sorted(stats)}")
        sizes = stats["heavy_atoms"]
        try:
            process = process_from_config(components["process"].config)
        except (TypeError, ValueError) as e:
            raise PipelineError(f"process/config.json: {e}") from None
        net = _net_from(components["net"], device)  # its errors name net/
        try:
            gen = ConformerGenerator(net, process, None if sizes is None else tuple(sizes),
                                     **{k: s[k] for k in _SAMPLER_KEYS})
            return cls(gen, n_conformers=s["n_conformers"])
        except (TypeError, ValueError) as e:
            if isinstance(e, PipelineError):
                raise
            raise PipelineError(f"sampler/config.json or stats/config.json: {e}") from None

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike, *, device: str | torch.device = "cpu", n_conformers: int = 10,
                 **settings: Any) -> ConformerPipeline:
        """The pipeline of a ``polydiff train molecules`` run (its EMA weights, its process, the
        training molecules' size range); ``settings`` are :class:`ConformerGenerator`'s sampler
        fields (``steps``, ``solver``, ``stereo_rounds`` ...)."""
        return cls(ConformerGenerator.from_run(run_dir, device=str(device), **settings), n_conformers=n_conformers)
