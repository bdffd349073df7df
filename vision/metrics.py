"""Image metrics, delegating to the field's libraries.

PSNR and SSIM from ``skimage.metrics`` (Wang et al. 2004), AUROC/AUPRC from
``sklearn.metrics``, the matrix square root from ``scipy.linalg.sqrtm``. The Fréchet
distance here is computed in the feature space of polydiff's own small
:class:`~polydiff.vision.nets.Classifier`; it follows the FID formula (Heusel et al. 2017,
eq. 2) but it is **not Inception FID** (Inception weights cannot be downloaded here), so its
values are only comparable with each other.
"""
from __future__ import annotations

import reprlib

import numpy as np
import torch
from polydiff.core.validate import check_int, check_tensor, describe
from torch import Tensor

from .data import check_images

__all__ = [
    "accuracy",
    "auprc",
    "auroc",
    "classifier_frechet_distance",
    "dice",
    "frechet_distance",
    "inpainting_scores",
    "iou_per_class",
    "masked_psnr",
    "miou",
    "psnr",
    "ssim",
]


def _pair(a: Tensor, b: Tensor) -> tuple[np.ndarray, np.ndarray]:
    check_images(a, "prediction")
    check_images(b, "target")
    if a.shape != b.shape:
        raise ValueError(f"prediction {tuple(a.shape)} and target {tuple(b.shape)} differ in shape")
    return a.detach().cpu().double().numpy(), b.detach().cpu().double().numpy()


def psnr(pred: Tensor, target: Tensor) -> float:
    """Mean per-image PSNR in dB of ``[N, C, H, W]`` images in ``[0, 1]`` (data range 1)."""
    from skimage.metrics import peak_signal_noise_ratio
    p, t = _pair(pred, target)
    vals = [peak_signal_noise_ratio(ti, pi, data_range=1.0) if not np.array_equal(ti, pi) else np.inf
            for pi, ti in zip(p, t)]
    return float(np.mean(np.minimum(vals, 100.0)))


def ssim(pred: Tensor, target: Tensor) -> float:
    """Mean per-image SSIM (Wang et al. 2004) via ``skimage.metrics.structural_similarity``;
    the window shrinks to the image for images smaller than 7 pixels."""
    from skimage.metrics import structural_similarity
    p, t = _pair(pred, target)
    win = min(7, p.shape[-1], p.shape[-2])
    win = win if win % 2 else win - 1
    if win < 3:
        raise ValueError(f"SSIM needs images of at least 3x3 pixels, got {p.shape[-2:]}")
    return float(np.mean([structural_similarity(ti, pi, data_range=1.0, channel_axis=0, win_size=win)
                          for pi, ti in zip(p, t)]))


def masked_psnr(pred: Tensor, target: Tensor, mask: Tensor) -> float:
    """Mean per-image PSNR over the pixels where ``mask == 1`` (e.g. the inpainted region)."""
    from ._common import check_mask
    p, t = _pair(pred, target)
    m = check_mask(mask, pred).detach().cpu().double().expand_as(pred).numpy()
    out = []
    for pi, ti, mi in zip(p, t, m):
        if mi.sum() == 0:
            raise ValueError("an image has an empty mask")
        mse = ((pi - ti) ** 2 * mi).sum() / mi.sum()
        out.append(100.0 if mse == 0 else 10 * np.log10(1.0 / mse))
    return float(np.mean(out))


def _labels(pred: Tensor, target: Tensor, num_classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    for name, v in (("pred", pred), ("target", target)):
        check_tensor(v, name, floating=False, finite=False)
    if pred.shape != target.shape:
        raise ValueError(f"label maps differ in shape: {tuple(pred.shape)} vs {tuple(target.shape)}")
    if num_classes is not None:
        for name, v in (("pred", pred), ("target", target)):
            if int(v.min()) < 0 or int(v.max()) >= num_classes:
                raise ValueError(f"{name} must hold class ids in 0..{num_classes - 1} (num_classes={num_classes}), "
                                 f"got values in [{int(v.min())}, {int(v.max())}]")
    return pred.cpu().numpy().ravel(), target.cpu().numpy().ravel()


def iou_per_class(pred: Tensor, target: Tensor, num_classes: int) -> np.ndarray:
    """Intersection over union for each class (NaN for a class absent from both maps)."""
    num_classes = check_int(num_classes, "num_classes", low=1)
    p, t = _labels(pred, target, num_classes)
    out = np.full(num_classes, np.nan)
    for k in range(num_classes):
        union = np.logical_or(p == k, t == k).sum()
        if union:
            out[k] = np.logical_and(p == k, t == k).sum() / union
    return out


def miou(pred: Tensor, target: Tensor, num_classes: int) -> float:
    """Mean IoU over the classes present in prediction or target."""
    return float(np.nanmean(iou_per_class(pred, target, num_classes)))


def dice(pred: Tensor, target: Tensor) -> float:
    """Dice coefficient ``2|A∩B| / (|A|+|B|)`` of two binary masks (1 when both are empty)."""
    p, t = _labels(pred, target)  # a float map (probabilities) would be truncated by .long()
    if not (np.isin(p, (0, 1)).all() and np.isin(t, (0, 1)).all()):
        raise ValueError("dice needs binary (0/1) masks")
    s = p.sum() + t.sum()
    return 1.0 if s == 0 else float(2 * np.logical_and(p == 1, t == 1).sum() / s)


def best_dice(maps: Tensor, masks: Tensor, n_thresholds: int = 64) -> tuple[float, float]:
    """Best Dice over thresholds of anomaly maps (AnoDDPM's pixel-level protocol, which reports
    Dice at the optimal threshold): ``(dice, threshold)``, thresholds at map quantiles."""
    check_tensor(maps, "maps", floating=True)
    check_tensor(masks, "masks", floating=False)
    n_thresholds = check_int(n_thresholds, "n_thresholds", low=1)
    if maps.shape != masks.shape:
        raise ValueError(f"maps {tuple(maps.shape)} and masks {tuple(masks.shape)} differ in shape")
    m, t = maps.detach().cpu().double().flatten(), masks.detach().cpu().long().flatten()
    qs = torch.quantile(m.float(), torch.linspace(0.5, 0.9999, n_thresholds)).double()
    best = (0.0, float(qs[0]))
    for th in torch.unique(qs):
        d = dice((m > th).long(), t)
        if d > best[0]:
            best = (d, float(th))
    return best


def _numeric(value, name: str) -> np.ndarray:
    """``value`` (a tensor, array or nested list of numbers) as a float64 array."""
    if isinstance(value, Tensor):
        value = value.detach().cpu()
        if value.is_complex():
            raise TypeError(f"{name} must hold real numbers, got {describe(value)}")
        return value.double().numpy()
    try:
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":
            raise TypeError
        return arr.astype(np.float64)
    except (TypeError, ValueError):
        got = reprlib.repr(value) if isinstance(value, (list, tuple)) else describe(value)
        raise TypeError(f"{name} must be a tensor, array or list of real numbers, got {got}") from None


def _scores(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    s = _numeric(scores, "scores").ravel()
    y = _numeric(labels, "labels").ravel()
    if s.shape != y.shape:
        raise ValueError(f"scores {s.shape} and labels {y.shape} differ in size")
    if not np.isfinite(s).all():
        raise ValueError("scores contain NaN or inf")
    if set(np.unique(y)) != {0, 1}:
        raise ValueError("labels must be binary and contain both classes")
    return s, y


def auroc(scores, labels) -> float:
    """Area under the ROC curve (``sklearn.metrics.roc_auc_score``); label 1 = anomalous."""
    from sklearn.metrics import roc_auc_score
    return float(roc_auc_score(*_scores(scores, labels)[::-1]))


def auprc(scores, labels) -> float:
    """Average precision (``sklearn.metrics.average_precision_score``); label 1 = anomalous."""
    from sklearn.metrics import average_precision_score
    return float(average_precision_score(*_scores(scores, labels)[::-1]))


@torch.no_grad()
def accuracy(classifier: torch.nn.Module, images: Tensor, labels: Tensor, batch: int = 256) -> float:
    """Fraction of ``images`` that ``classifier`` assigns to ``labels``."""
    check_images(images)
    channels = getattr(getattr(classifier, "config", None), "in_channels", None)
    if channels is not None and images.shape[1] != channels:
        raise ValueError(f"images must have {channels} channel(s) (the classifier's in_channels), got "
                         f"shape {tuple(images.shape)}")
    if (not isinstance(labels, Tensor) or labels.shape != (images.shape[0],) or torch.is_floating_point(labels)
            or labels.dtype == torch.bool):
        raise ValueError(f"labels must be integer class ids of shape [{images.shape[0]}], got {describe(labels)}")
    batch = check_int(batch, "batch", low=1)
    classifier.eval()
    logits = torch.cat([classifier(images[i:i + batch]) for i in range(0, len(images), batch)])
    k = logits.shape[-1]
    if int(labels.min()) < 0 or int(labels.max()) >= k:  # would count as misclassified, not refused
        raise ValueError(f"labels must lie in 0..{k - 1} (the classifier gives {k} logits), "
                         f"got values in [{int(labels.min())}, {int(labels.max())}]")
    return float((logits.argmax(-1).cpu() == labels.cpu()).float().mean())


def frechet_distance(feats_a: np.ndarray | Tensor, feats_b: np.ndarray | Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets ``[N, D]`` (Heusel et al.
    2017, eq. 2): ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^{1/2})``."""
    from scipy import linalg
    a, b = _numeric(feats_a, "feats_a"), _numeric(feats_b, "feats_b")
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"features must be [N, D] with equal D, got {a.shape}, {b.shape}")
    if min(len(a), len(b)) < 2:
        raise ValueError("need at least two samples per set")
    for name, f in (("feats_a", a), ("feats_b", b)):
        if not np.isfinite(f).all():
            raise ValueError(f"{name} contains NaN or inf")
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    covmean = linalg.sqrtm(s_a @ s_b)
    if not np.isfinite(covmean).all():  # singular product: regularise (as pytorch-fid does)
        off = np.eye(len(s_a)) * 1e-6
        covmean = linalg.sqrtm((s_a + off) @ (s_b + off))
    covmean = np.real(covmean)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * np.trace(covmean))


@torch.no_grad()
def classifier_frechet_distance(classifier: torch.nn.Module, images_a: Tensor, images_b: Tensor,
                                batch: int = 256) -> float:
    """Fréchet distance in the penultimate feature space of ``classifier`` (not Inception FID)."""
    check_images(images_a, "images_a")
    check_images(images_b, "images_b")
    classifier.eval()
    batch = check_int(batch, "batch", low=1)

    def feats(x):
        return torch.cat([classifier.features(x[i:i + batch]) for i in range(0, len(x), batch)]).cpu()
    return frechet_distance(feats(images_a), feats(images_b))


def inpainting_scores(classifier: torch.nn.Module, completed: Tensor, labels: Tensor, real: Tensor, *,
                      truth: Tensor | None = None, hole: Tensor | None = None) -> dict[str, float]:
    """Scores of completed (inpainted, SDEdited) images, headline metrics first.

    ``classifier-accuracy`` (faithfulness: the completion shows the source's class ``labels``)
    and ``classifier-frechet`` (realism: Fréchet distance to ``real`` images in the classifier's
    feature space) are what the field scores inpainting by (RePaint, Lugmayr et al. 2022,
    reports LPIPS and user votes, not PSNR): PSNR in a large hole rewards the blurred average
    over any one plausible completion. With ``truth`` also ``SSIM``, and with ``hole`` (1 =
    filled pixel) ``PSNR-hole``, as secondary columns.
    """
    check_images(completed, "completed")
    if not isinstance(labels, Tensor) or labels.shape != (completed.shape[0],) or torch.is_floating_point(labels):
        raise ValueError(f"labels must be integer class ids of shape [{completed.shape[0]}], got {describe(labels)}")
    if hole is not None and truth is None:
        raise ValueError("hole needs truth: PSNR-hole compares the completion with the true image")
    check_images(real, "real", channels=completed.shape[1])
    dev = next(classifier.parameters()).device
    out = {"classifier-accuracy": accuracy(classifier, completed.to(dev), labels.to(dev)),
           "classifier-frechet": classifier_frechet_distance(classifier, completed.to(dev), real.to(dev))}
    if truth is not None:
        if hole is not None:
            out["PSNR-hole"] = masked_psnr(completed, truth, hole)
        out["SSIM"] = ssim(completed, truth)
    return out
