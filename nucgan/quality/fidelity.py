"""Image-level comparisons of a generated image with the real one: paired fidelity, intensities, spectra."""

from __future__ import annotations

import numpy as np
from scipy.stats import wasserstein_distance
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


def _unit(real: np.ndarray, fake: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Both images as float64 and the data range (of the real image) the scores use."""
    r, f = np.asarray(real, dtype=np.float64), np.asarray(fake, dtype=np.float64)
    if r.shape != f.shape:
        raise ValueError(f"real {r.shape} and generated {f.shape} differ in shape")
    rng = float(r.max() - r.min()) or 1.0
    return r, f, rng


def paired(real: np.ndarray, fake: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """MAE, PSNR and SSIM, overall and inside / outside the nuclei; MAE is in units of the real range."""
    r, f, rng = _unit(real, fake)
    inside = labels > 0
    _, ssim_map = structural_similarity(r, f, data_range=rng, full=True)
    out: dict[str, float] = {}
    for name, where in (("all", np.ones_like(inside)), ("inside", inside), ("outside", ~inside)):
        if not where.any():
            continue
        err = np.abs(r[where] - f[where])
        mse = float(np.mean(err ** 2))
        out[f"mae_{name}"] = float(err.mean()) / rng
        out[f"psnr_{name}"] = float("inf") if mse == 0 else float(10 * np.log10(rng ** 2 / mse))
        out[f"ssim_{name}"] = float(ssim_map[where].mean())
    out["psnr_all"] = float(peak_signal_noise_ratio(r, f, data_range=rng)) if out["mae_all"] else float("inf")
    return out


def intensities(real: np.ndarray, fake: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Per-nucleus mean intensity and background level, real vs generated, and their distance.

    ``nucleus_w1`` is the Wasserstein-1 distance between the two distributions of per-nucleus
    means, in units of the real image's range (0 = identical distributions).
    """
    r, f, rng = _unit(real, fake)
    ids = np.unique(labels)
    ids = ids[ids > 0]
    if ids.size == 0:
        raise ValueError("no nuclei in the labels")
    idx = np.searchsorted(ids, labels)
    inside = labels > 0
    counts = np.bincount(idx[inside], minlength=ids.size)
    mean_r = np.bincount(idx[inside], weights=r[inside], minlength=ids.size) / counts
    mean_f = np.bincount(idx[inside], weights=f[inside], minlength=ids.size) / counts
    return {
        "nucleus_mean_real": float(mean_r.mean()), "nucleus_mean_generated": float(mean_f.mean()),
        "nucleus_w1": float(wasserstein_distance(mean_r, mean_f)) / rng,
        "nucleus_corr": (float(np.corrcoef(mean_r, mean_f)[0, 1])
                         if ids.size > 1 and min(mean_r.std(), mean_f.std()) > 0 else 0.0),
        "background_real": float(np.median(r[~inside])) if (~inside).any() else 0.0,
        "background_generated": float(np.median(f[~inside])) if (~inside).any() else 0.0,
        "background_std_real": float(r[~inside].std()) if (~inside).any() else 0.0,
        "background_std_generated": float(f[~inside].std()) if (~inside).any() else 0.0,
    }


def radial_spectrum(image: np.ndarray, bins: int = 32) -> np.ndarray:
    """Radially averaged power spectrum (log10), ``bins`` rings from DC to the Nyquist frequency."""
    x = np.asarray(image, dtype=np.float64)
    x = x - x.mean()
    power = np.abs(np.fft.fftshift(np.fft.fft2(x))) ** 2
    h, w = x.shape
    yy, xx = np.mgrid[:h, :w]
    r = np.hypot((yy - h // 2) / (h / 2), (xx - w // 2) / (w / 2))
    ring = np.minimum((r * bins).astype(int), bins - 1)  # radius 1 = Nyquist; Nyquist and corners fold into the last
    total = np.bincount(ring.ravel(), weights=power.ravel(), minlength=bins + 1)[:bins]
    count = np.bincount(ring.ravel(), minlength=bins + 1)[:bins]
    return np.log10(total / np.maximum(count, 1) + 1e-12)


def spectrum(real: np.ndarray, fake: np.ndarray, bins: int = 32) -> dict[str, object]:
    """Radial power spectra compared: mean |log10 ratio| overall and over the top quarter of frequencies.

    Checkerboard artefacts of transposed convolutions put excess power near the Nyquist frequency,
    which shows as a positive ``high_freq_log_ratio``.
    """
    sr, sf = radial_spectrum(real, bins), radial_spectrum(fake, bins)
    high = slice(3 * bins // 4, bins)
    return {"spectrum_log_mae": float(np.mean(np.abs(sf - sr))),
            "high_freq_log_ratio": float(np.mean(sf[high] - sr[high])),
            "spectrum_real": sr.round(4).tolist(), "spectrum_generated": sf.round(4).tolist()}
