"""The judge: one fixed, classical nucleus segmenter used to score real and generated images alike.

Smooth (Gaussian, sigma 1), threshold at 0.85 x Otsu, drop specks (< 15 px), fill holes, then
split touching nuclei by a watershed on the distance transform (smoothed, sigma 0.5) from its local
maxima at least 7 px apart. The four constants were chosen once by a grid search on the DSB train
half (F1@0.5 0.82 there); the test half was never looked at. Nothing is learned and nothing is
tuned per image, so the same image always gives the same segmentation, and a generated image that
segments like the real one is, for a segmenter, as good as real.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.feature import peak_local_max
from skimage.filters import gaussian, threshold_otsu
from skimage.morphology import remove_small_objects
from skimage.segmentation import watershed

SMOOTH_SIGMA = 1.0
MIN_AREA = 15
THRESHOLD_FACTOR = 0.85
PEAK_DISTANCE = 7
DISTANCE_SIGMA = 0.5


def judge_segment(image: np.ndarray) -> np.ndarray:
    """Instance labels (int32) for a nucleus image (any numeric dtype, bright nuclei on dark)."""
    img = gaussian(np.asarray(image, dtype=np.float64), sigma=SMOOTH_SIGMA, preserve_range=True)
    if np.ptp(img) == 0:
        return np.zeros(img.shape, dtype=np.int32)
    fg = img > THRESHOLD_FACTOR * threshold_otsu(img)
    fg = ndi.binary_fill_holes(remove_small_objects(fg, max_size=MIN_AREA - 1) if _new_skimage() else
                               remove_small_objects(fg, min_size=MIN_AREA))
    dist = gaussian(ndi.distance_transform_edt(fg), sigma=DISTANCE_SIGMA, preserve_range=True)
    components, _ = ndi.label(fg)
    peaks = peak_local_max(dist, min_distance=PEAK_DISTANCE, labels=components, exclude_border=False)
    markers = np.zeros(fg.shape, dtype=np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    labels = watershed(-dist, markers, mask=fg)
    # components without a peak (tiny ones) keep their own label rather than vanish
    missing = np.setdiff1d(np.unique(components[fg & (labels == 0)]), [0])
    for i, comp in enumerate(missing, start=labels.max() + 1):
        labels[(components == comp) & (labels == 0)] = i
    return labels.astype(np.int32)


def _new_skimage() -> bool:
    import inspect

    return "max_size" in inspect.signature(remove_small_objects).parameters
