"""Probes of issue 14's ablations: ``benchmarks/style.py`` with a hand-made change inside the nuclei (not shipped).

``--probe texture``: before synth's sensor noise, each nucleus's contrast is multiplied by
(1 + tau * t), t a 1.5 px Gaussian-correlated unit noise, tau bisected per image until the
band-pass texture inside the nuclei (1 px minus 4 px blur, 3 px in from the outlines) reaches
0.1136 of the contrast (the fit part's median, ``appearance_stats.py``).
``--probe power``: ``--nucleus-spread F`` done by widening the painted differences instead of
drawing gains: each nucleus's contrast c becomes m (c / m)^F (m: their median), gains clipped to
[0.2, 5].
``--probe warp``: before synth's sensor noise, the painted image is resampled through a smooth random
displacement (two unit noises blurred by 6 px, scaled to WARP_RMS px rms; bilinear), so its
outlines leave the masks by about a pixel, as hand-drawn outlines do on real images; the labels are
not moved. Everything after ``--probe NAME`` goes to style.py, e.g.

    python benchmarks/appearance_probe.py --probe texture --model benchmarks/results/generalist/dsb2018-fluo-1x-k3 \\
        --held-out --max-images 61 --realism --sensor-noise on --out /tmp/texture.json
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import numpy as np

TEXTURE_TARGET = 0.1136
TEXTURE_SIGMA = 1.5
WARP_RMS = float(__import__("os").environ.get("NUCGAN_WARP_RMS", "1.0"))
WARP_SIGMA = 6.0


def band(x: np.ndarray, where: np.ndarray) -> float:
    """Robust sd over ``where`` of x's 1 px minus 4 px Gaussian blur."""
    from scipy import ndimage as ndi

    r = (ndi.gaussian_filter(x, 1.0) - ndi.gaussian_filter(x, 4.0))[where]
    return float(1.4826 * np.median(np.abs(r - np.median(r))))


def install_texture() -> None:
    """Wrap ``nucgan.sensor.add_sensor_noise`` so a texture goes on first."""
    from scipy import ndimage as ndi

    import nucgan.sensor as sensor

    original = sensor.add_sensor_noise

    def textured(image, record, nuclei, seed, signal=False):  # noqa: ANN001, ANN202 - same signature
        inner = ndi.binary_erosion(nuclei, iterations=3)
        background = ~ndi.binary_dilation(nuclei, iterations=2)
        if inner.sum() >= 200 and background.sum() >= 200:
            x = image.astype(np.float64)
            level = float(np.median(x[background]))
            contrast = float(np.median(x[inner])) - level
            if contrast > 0:
                t = ndi.gaussian_filter(np.random.default_rng([seed, 0x7E7]).standard_normal(x.shape), TEXTURE_SIGMA)
                above = np.maximum(x - level, 0) * (t / t.std())
                measure = lambda tau: band(x + tau * above, inner) / contrast  # noqa: E731
                if measure(0.0) < TEXTURE_TARGET:
                    low, high = 0.0, 0.2
                    while measure(high) < TEXTURE_TARGET and high < 5:
                        low, high = high, 2 * high
                    for _ in range(10):
                        middle = 0.5 * (low + high)
                        low, high = (middle, high) if measure(middle) < TEXTURE_TARGET else (low, middle)
                    image = np.clip(x + 0.5 * (low + high) * above, -1, 1).astype(np.float32)
        return original(image, record, nuclei, seed, signal=signal)

    sensor.add_sensor_noise = textured


def install_warp() -> None:
    """Wrap ``nucgan.sensor.add_sensor_noise`` so the painted image is displaced first."""
    from scipy import ndimage as ndi

    import nucgan.sensor as sensor

    original = sensor.add_sensor_noise

    def warped(image, record, nuclei, seed, signal=False):  # noqa: ANN001, ANN202 - same signature
        rng = np.random.default_rng([seed, 77])
        h, w = image.shape
        fields = []
        for _ in range(2):
            f = ndi.gaussian_filter(rng.standard_normal((h, w)), WARP_SIGMA, mode="wrap")
            fields.append(f * (WARP_RMS / max(float(np.sqrt(np.mean(f ** 2))), 1e-12)))
        rows, cols = np.mgrid[0:h, 0:w].astype(np.float64)
        moved = ndi.map_coordinates(image.astype(np.float64), [rows + fields[0], cols + fields[1]],
                                    order=1, mode="reflect").astype(np.float32)
        return original(moved, record, nuclei, seed, signal=signal)

    sensor.add_sensor_noise = warped


def install_power() -> None:
    """Replace ``nucgan.nucleus_spread.spread_nuclei`` by the deterministic widening."""
    from scipy import ndimage as ndi

    import nucgan.nucleus_spread as ns

    def power(image, labels, factor, seed):  # noqa: ANN001, ANN202, ARG001 - same signature, no randomness
        x = image.astype(np.float32, copy=True)
        labels = np.asarray(labels)
        fg = labels > 0
        if factor == 1.0 or not fg.any():
            return x
        level = ns.background_level(x, fg)
        size = int(labels.max()) + 1
        areas = np.bincount(labels.ravel(), minlength=size)
        sums = np.bincount(labels.ravel(), weights=x.ravel(), minlength=size)
        ids = np.flatnonzero(areas[1:]) + 1
        c = sums[ids] / areas[ids] - level
        bright = c > 0
        if bright.sum() < 2:
            return x
        gains = np.ones(len(ids))
        gains[bright] = np.clip((c[bright] / np.median(c[bright])) ** (factor - 1), 0.2, 5)
        table = np.ones(size, np.float32)
        table[ids] = gains
        grown = np.where(fg, labels, ndi.maximum_filter(labels, size=2 * ns.HALO + 1))
        change = ndi.gaussian_filter(table[grown] - np.float32(1), ns.GAIN_BLUR, truncate=4.0)
        touched = change != 0
        x[touched] += (x[touched] - level) * change[touched]
        return np.clip(x, -1, 1, out=x)

    ns.spread_nuclei = power


def main() -> None:
    probes = {"texture": install_texture, "power": install_power, "warp": install_warp}
    if len(sys.argv) < 3 or sys.argv[1] != "--probe" or sys.argv[2] not in probes:
        sys.exit("usage: appearance_probe.py --probe texture|power|warp STYLE_ARGS...")
    probe, passed = sys.argv[2], sys.argv[3:]
    probes[probe]()
    sys.argv = ["benchmarks/style.py", *passed]
    runpy.run_path(str(Path(__file__).resolve().parent / "style.py"), run_name="__main__")
    if "--out" in passed:  # the JSON names the probe's command, not style.py's
        import json

        out = Path(passed[passed.index("--out") + 1])
        result = json.loads(out.read_text())
        result.update(probe=probe, **({"warp_rms": WARP_RMS} if probe == "warp" else {}), command=" ".join(["python", "benchmarks/appearance_probe.py", "--probe", probe, *passed]))
        out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
