"""polydiff.molecules — GeoDiff conformer generation on the polydiff engine.

Generate 3D conformers of a molecule from its 2D graph with a roto-translation-equivariant
denoiser (Xu et al. 2022, "GeoDiff: a Geometric Diffusion Model for Molecular Conformation
Generation"): featurisation of RDKit molecules (:mod:`.featurize`), the extended graph with
2-/3-hop and radius edges (:mod:`.graph`), two equivariant denoisers (:mod:`.nets`), the
CoM-free process hooks (:mod:`.process`), the ``generate_conformers`` API (:mod:`.generate`),
COV/MAT metrics (:mod:`.metrics`), RDKit ETKDG baselines (:mod:`.baselines`), training
(:mod:`.train`); stereo perception, repair and filtering (:mod:`.stereo`), the random QM9
split (:mod:`.splits`) and the chemist's ``ConformerGenerator`` (SMILES/Mols in, Mols/SDF out;
:mod:`.pipeline`), saved and loaded as a ``ConformerPipeline`` folder (:mod:`.pipelines`) and
applied to SMILES/SDF files by ``polydiff conformers`` (:mod:`.commands`, :mod:`.files`). The
benchmark entry is :mod:`polydiff.bench.molecules`.

Needs the ``molecules`` extra (rdkit, torch-geometric, e3nn).
"""
import importlib.util as _ilu

for _mod in ("rdkit", "torch_geometric", "e3nn"):
    if _ilu.find_spec(_mod) is None:
        raise ImportError('pip install "polydiff[molecules]"')
del _mod, _ilu
