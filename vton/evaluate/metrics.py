"""The scores: SSIM (scikit-image), LPIPS distances, FID and KID on feature sets, and bootstrap intervals.

SSIM is scikit-image's ``structural_similarity`` with the setting of Wang et al. (IEEE TIP 2004) that the try-on
papers quote: an 11 × 11 Gaussian window (σ 1.5, ``truncate=3.5`` gives radius 5), population covariances
(``use_sample_covariance=False``), K1 0.01, K2 0.03, ``data_range=255``, on RGB (mean over channels) at the
evaluation size; ``gray=True`` converts both images to 8-bit luma first (PIL's ``"L"``: ITU-R 601-2), the variant
some papers used.

FID (Heusel et al., NeurIPS 2017) is ``|μ1 − μ2|² + tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½)`` on Inception pool features; the
trace of the square root is computed exactly as the nuclear norm of ``A1ᵀ A2`` (``Σi = Ai Aiᵀ`` from the centred
features) when a set is smaller than the feature width, else from the eigenvalues of ``Σ1^½ Σ2 Σ1^½``. KID
(Bińkowski et al., ICLR 2018) is the unbiased MMD² with the kernel ``(xᵀy / d + 1)³``, averaged over random
subsets as clean-fid and torch-fidelity do (100 subsets of 1000 by default; the subset size shrinks to the
smaller set's size when a set is smaller, and the result says so).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from vton.errors import InputError

__all__ = [
    "SSIM_SETTINGS", "ssim", "frechet_distance", "fid_from_features", "kid_from_features", "KID_SUBSETS",
    "KID_SUBSET_SIZE", "kid_score", "bootstrap_ci", "Score", "summarise_per_image", "summarise_set_metric",
]

SSIM_SETTINGS = {"win": "11 × 11 Gaussian", "sigma": 1.5, "data_range": 255, "K1": 0.01, "K2": 0.03,
                 "covariance": "population (use_sample_covariance=False)"}
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000


def _as_uint8(img: Image.Image | np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(img.convert("RGB")) if isinstance(img, Image.Image) else np.asarray(img)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise InputError(f"the {what} must be an RGB image (H, W, 3), got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise InputError(f"the {what} must hold 8-bit values (uint8), got {arr.dtype}")
    return arr


def ssim(pred: Image.Image | np.ndarray, target: Image.Image | np.ndarray, *, gray: bool = False) -> float:
    """SSIM of two 8-bit RGB images of the same size (see the module docstring for the setting).

    Raises:
        InputError: the images differ in size or are not 8-bit RGB.
    """
    from skimage.metrics import structural_similarity

    a, b = _as_uint8(pred, "predicted image"), _as_uint8(target, "ground-truth image")
    if a.shape != b.shape:
        raise InputError(f"SSIM needs images of one size: the prediction is {a.shape[1]} × {a.shape[0]}, the ground "
                         f"truth {b.shape[1]} × {b.shape[0]} (W × H)")
    if min(a.shape[:2]) < 11:
        raise InputError(f"SSIM's 11 × 11 window needs images of at least 11 × 11 pixels, got {a.shape[1]} × "
                         f"{a.shape[0]}")
    kw = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False, "data_range": 255.0}
    if gray:
        la = np.asarray(Image.fromarray(a).convert("L"), dtype=np.float64)
        lb = np.asarray(Image.fromarray(b).convert("L"), dtype=np.float64)
        return float(structural_similarity(la, lb, **kw))
    return float(structural_similarity(a.astype(np.float64), b.astype(np.float64), channel_axis=2, **kw))


# ----------------------------------------------------------------------------------------------------------------
# FID and KID


def _sqrtm_psd(m: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((m + m.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance of two Gaussians ``N(mu1, sigma1)`` and ``N(mu2, sigma2)`` (covariances symmetric PSD).

    ``tr((Σ1 Σ2)^½)`` is the sum of the square roots of the eigenvalues of ``Σ1^½ Σ2 Σ1^½`` (similar to Σ1 Σ2,
    symmetric PSD), which avoids the complex round-off of a general matrix square root.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise InputError(f"FID needs means (d,) and covariances (d, d) of one d, got {mu1.shape}, {s1.shape}, "
                         f"{mu2.shape}, {s2.shape}")
    r1 = _sqrtm_psd(s1)
    eig = np.linalg.eigvalsh(r1 @ s2 @ r1)
    tr_covmean = float(np.sqrt(np.clip(eig, 0, None)).sum())
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)


def _check_features(x: np.ndarray, y: np.ndarray, need: int) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise InputError(f"feature sets must be (N, d) of one width d, got {x.shape} and {y.shape}")
    if min(len(x), len(y)) < need:
        raise InputError(f"this score needs at least {need} images per set, got {len(x)} and {len(y)}")
    return x, y


def fid_from_features(x: np.ndarray, y: np.ndarray) -> float:
    """FID of two feature sets ``(N1, d)`` and ``(N2, d)`` (sample covariances with ``N − 1``, as pytorch-fid)."""
    x, y = _check_features(x, y, 2)
    mu1, mu2 = x.mean(0), y.mean(0)
    a = (x - mu1) / np.sqrt(len(x) - 1)  # (N1, d): Σ1 = aᵀ a
    b = (y - mu2) / np.sqrt(len(y) - 1)
    d = x.shape[1]
    if min(len(x), len(y)) <= d:
        tr_covmean = float(np.linalg.svd(a @ b.T, compute_uv=False).sum())  # ‖A1ᵀ A2‖_* = tr((Σ1 Σ2)^½)
        diff = mu1 - mu2
        return float(diff @ diff + (a * a).sum() + (b * b).sum() - 2 * tr_covmean)
    return frechet_distance(mu1, a.T @ a, mu2, b.T @ b)


def _kernels(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = x.shape[1]
    return (x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3


def _mmd2_unbiased(k: tuple[np.ndarray, np.ndarray, np.ndarray], ix: np.ndarray, iy: np.ndarray) -> float:
    """Unbiased MMD² of the features ``ix`` of X and ``iy`` of Y, from the precomputed kernel matrices ``k``."""
    a, b, c = k[0][np.ix_(ix, ix)], k[1][np.ix_(iy, iy)], k[2][np.ix_(ix, iy)]
    m, n = len(ix), len(iy)
    return float((a.sum() - np.trace(a)) / (m * (m - 1)) + (b.sum() - np.trace(b)) / (n * (n - 1)) - 2 * c.mean())


@dataclass(frozen=True)
class KIDResult:
    value: float
    subset_size: int
    subsets: int
    note: str


def kid_from_features(x: np.ndarray, y: np.ndarray, *, subsets: int = KID_SUBSETS,
                      subset_size: int = KID_SUBSET_SIZE, seed: int = 0) -> KIDResult:
    """KID: the unbiased polynomial-kernel MMD² averaged over ``subsets`` random subsets (drawn without
    replacement) of ``subset_size`` features from each set; the size shrinks to the smaller set when needed (then,
    if both sets are no larger than it, one subset: the whole sets).
    """
    x, y = _check_features(x, y, 2)
    return _kid(_kernels(x, y), np.arange(len(x)), np.arange(len(y)), subsets, subset_size,
                np.random.default_rng(seed))


def _kid(k: tuple[np.ndarray, np.ndarray, np.ndarray], ix: np.ndarray, iy: np.ndarray, subsets: int,
         subset_size: int, rng: np.random.Generator) -> KIDResult:
    m = min(subset_size, len(ix), len(iy))
    note = ""
    if m < subset_size:
        note = (f"subset size {m} (the smaller set's size) instead of {subset_size}: the sets have {len(ix)} and "
                f"{len(iy)} images")
    if m == len(ix) == len(iy):
        return KIDResult(_mmd2_unbiased(k, ix, iy), m, 1, note + ("; one subset: the whole sets" if note else ""))
    vals = [_mmd2_unbiased(k, rng.choice(ix, m, replace=False), rng.choice(iy, m, replace=False))
            for _ in range(subsets)]
    return KIDResult(float(np.mean(vals)), m, subsets, note)


KID_BOOTSTRAP_SUBSETS = 10


def kid_score(x: np.ndarray, y: np.ndarray, *, subsets: int = KID_SUBSETS, subset_size: int = KID_SUBSET_SIZE,
              resamples: int = 50, seed: int = 0) -> Score:
    """KID of the full sets (``kid_from_features``) and a 95 % percentile interval over bootstrap resamples of both
    sets. A resample keeps each drawn image once (repeated images would bias the unbiased estimator upwards), so it
    scores about 63 % of the images with ``KID_BOOTSTRAP_SUBSETS`` subsets: the interval is on the wide side. The
    kernel matrices are computed once; every resample and subset indexes them."""
    x, y = _check_features(x, y, 2)
    k = _kernels(x, y)
    full = _kid(k, np.arange(len(x)), np.arange(len(y)), subsets, subset_size, np.random.default_rng(seed))
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(resamples):
        ix, iy = np.unique(rng.integers(0, len(x), len(x))), np.unique(rng.integers(0, len(y), len(y)))
        if min(len(ix), len(iy)) >= 2:
            vals.append(_kid(k, ix, iy, KID_BOOTSTRAP_SUBSETS, subset_size, rng).value)
    lo, hi = np.percentile(np.asarray(vals or [full.value], np.float64), [2.5, 97.5])
    note = full.note or f"{full.subsets} subsets of {full.subset_size}"
    return Score(full.value, (float(lo), float(hi)), int(len(x)), note + "; interval: bootstrap without repeats")


# ----------------------------------------------------------------------------------------------------------------
# summaries with bootstrap intervals


@dataclass(frozen=True)
class Score:
    """One metric of one method and mode: ``mean`` (the set's value for FID/KID), its 95 % bootstrap interval
    ``ci95 = (low, high)`` over images, the image count ``n`` and notes (e.g. KID's subset size)."""

    mean: float
    ci95: tuple[float, float]
    n: int
    note: str = ""

    def as_dict(self) -> dict:
        out = {"mean": self.mean, "ci95": [self.ci95[0], self.ci95[1]], "n": self.n}
        if self.note:
            out["note"] = self.note
        return out


def bootstrap_ci(stat: Callable[[np.ndarray], float], n: int, *, resamples: int, seed: int = 0
                 ) -> tuple[float, float]:
    """Percentile 95 % interval of ``stat(indices)`` over ``resamples`` draws of ``n`` indices with replacement."""
    rng = np.random.default_rng(seed)
    vals = np.array([stat(rng.integers(0, n, n)) for _ in range(resamples)], dtype=np.float64)
    lo, hi = np.percentile(vals, [2.5, 97.5])
    return float(lo), float(hi)


def summarise_per_image(values: Sequence[float], *, resamples: int = 1000, seed: int = 0) -> Score:
    """Mean of per-image values and the bootstrap interval of the mean."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise InputError("no images were scored")
    ci = bootstrap_ci(lambda idx: float(v[idx].mean()), v.size, resamples=resamples, seed=seed)
    return Score(float(v.mean()), ci, int(v.size))


def summarise_set_metric(fn: Callable[[np.ndarray, np.ndarray], float], x: np.ndarray, y: np.ndarray, *,
                         resamples: int = 20, seed: int = 0, note: str = "") -> Score:
    """A set metric (FID) on the full sets, with the bootstrap spread placed around it: both sets are resampled
    with replacement ``resamples`` times and the interval is ``[F − (q50 − q2.5), F + (q97.5 − q50)]`` of the
    resampled values ``q``. Resampled sets repeat images, which shifts FID (it is biased in the set's make-up),
    so the shift is removed and only the spread is kept."""
    rng = np.random.default_rng(seed)
    full = float(fn(x, y))
    vals = np.asarray([fn(x[rng.integers(0, len(x), len(x))], y[rng.integers(0, len(y), len(y))])
                       for _ in range(resamples)], np.float64)
    q_lo, q_mid, q_hi = np.percentile(vals, [2.5, 50, 97.5])
    return Score(full, (full - float(q_mid - q_lo), full + float(q_hi - q_mid)), int(len(x)),
                 note or "interval: bootstrap spread around the full-set value")
