"""polydiff.vision — image tasks on the polydiff engine.

Class-conditional generation with classifier-free guidance (:mod:`.generate`), SR3
super-resolution (:mod:`.superres`), RePaint inpainting (:mod:`.inpaint`), Palette inpainting
(:mod:`.palette`), SDEdit (:mod:`.sdedit`), label-efficient segmentation from denoiser features
(:mod:`.segment`) and AnoDDPM anomaly detection with simplex noise (:mod:`.anomaly`). Every task
samples through :func:`polydiff.core.sample`, so any core solver and step count works.

Needs the ``vision`` extra (scikit-image, scikit-learn, scipy, matplotlib, nilearn, tifffile).
"""
import importlib.util as _ilu

for _mod in ("skimage", "sklearn", "scipy", "matplotlib"):
    if _ilu.find_spec(_mod) is None:
        raise ImportError('pip install "polydiff[vision]"')
del _mod, _ilu
