"""polydiff.robustness — diffusion purification (DiffPure) and its adaptive evaluation.

DiffPure (Nie et al. 2022, "Diffusion Models for Adversarial Purification"): diffuse an
(attacked) input to a small time ``t*`` with the VP forward process, solve the reverse SDE
back to ``t_min`` and classify the result. Its robustness must be judged with adaptive
attacks that differentiate through the purifier (Lee & Kim 2023, "Robust Evaluation of
Diffusion-Based Adversarial Purification"), so this package ships the gradient modes
(full backpropagation, discrete adjoint, BPDA, EOT) next to the defence.

Rooms: :mod:`.data` (MNIST / Fashion-MNIST through vision's loader), :mod:`.nets` (classifier, the
diffusion denoiser), :mod:`.purify` (Purifier, PurifiedClassifier, Tweedie baseline),
:mod:`.gradients` (gradient modes), :mod:`.attacks` (torchattacks wrappers, worst-case
evaluation), :mod:`.metrics` (accuracies with confidence intervals), :mod:`.train`,
:mod:`.pipelines` (PurificationPipeline: a trained defence as a saved folder), :mod:`.commands`
(``polydiff purify``) with :mod:`.image_io` (its image and CSV files); the benchmark entry is
:mod:`polydiff.bench.robustness`.

``torchattacks`` is installed without its declared dependencies (it declares torchvision,
which would replace the CPU torch build); its import needs only torch, numpy, scipy and
tqdm, and never imports torchvision.
"""
try:
    import scipy.stats  # noqa: F401  (confidence intervals)
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError('pip install "polydiff[robustness]"') from err
try:
    import torchattacks  # noqa: F401  (PGD, EOT-PGD, APGD, AutoAttack)
except ImportError as err:  # pragma: no cover - exercised only without torchattacks
    # torchattacks cannot be an ordinary dependency of the extra: its declared torchvision and
    # requests pins would replace the CPU torch build. It installs in a second, --no-deps step.
    raise ImportError('pip install "polydiff[robustness]" && pip install --no-deps "torchattacks==3.5.1"') from err
