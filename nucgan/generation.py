"""Masks in, image out: ``generate(model, labels)`` for any image size, in overlapping blended tiles."""

from __future__ import annotations

import contextlib
import os
import warnings
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch

from nucgan.devices import bf16_slow_warning
from nucgan.errors import InputError
from nucgan.memory import keep_freed_memory
from nucgan.noise import PositionalDropout

if TYPE_CHECKING:
    from nucgan.inputs import InputSettings
    from nucgan.style import StyleRecord


def load_model(model: Any) -> Any:
    """A ZooModel from a zoo id, run directory or file (a loaded ZooModel passes through)."""
    if isinstance(model, (str, os.PathLike)):
        from nucgan.zoo import load

        return load(model)
    if not hasattr(model, "generator") or not hasattr(model, "input"):
        raise InputError("model: expected a zoo id, a run directory, a .safetensors file or nucgan.zoo.load(...)")
    return model


def conditioning(model: Any, labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """Bool (in_channels, H, W) layers for ``model`` from instance labels (2-D) or a layered stack (3-D)."""
    from nucgan.layering import layer

    settings = model.input
    merged = settings.merged
    in_channels = settings.channels + int(merged)  # mask channels; style channels are added when painting
    arr = np.asarray(labels)
    if arr.ndim == 2:
        return layer(arr, channels=settings.channels, gap=settings.gap, merged=merged, seed=seed,
                     method=settings.layerer)
    if arr.ndim == 3:
        if arr.dtype.kind not in "biuf" or not np.isin(np.unique(arr), (0, 1, 255)).all():
            raise InputError(f"layered stack: expected binary channels (0/1 or 0/255), got values of dtype {arr.dtype}")
        stack = arr > 0
        if stack.shape[0] == in_channels:
            return stack
        if merged and stack.shape[0] == in_channels - 1:
            return np.concatenate([stack.any(axis=0, keepdims=True), stack])
        raise InputError(f"layered stack has {stack.shape[0]} channels; this model takes {in_channels}"
                         f"{' (or ' + str(in_channels - 1) + ' without the merged channel)' if merged else ''}")
    raise InputError(f"labels: expected a 2-D label image or a 3-D layered stack, got shape {arr.shape}")


#: the largest tile ``paint`` uses by default, in px (rounded up to the model's size multiple)
MAX_TILE = 1024


def _starts(size: int, tile: int, step: int) -> list[int]:
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, step)) + [size - tile]
    return sorted(set(starts))


def tile_plan(size: int, max_tile: int, overlap: int, multiple: int) -> tuple[int, list[int]]:
    """(tile length, starts) along one axis of ``size`` px: the fewest tiles of at most ``max_tile``, each as short as covers it.

    Overlaps are painted twice, so the plan takes the fewest tiles that cover ``size`` with
    ``overlap`` between neighbours, then the shortest tile (a multiple of ``multiple``) that still
    covers it: 8192 px in 9 tiles of 992 (1.19x the pixels painted) where fixed 512 px tiles take
    19 (1.41x), and an image under ``max_tile`` in one tile. Per painted pixel a 1024 px tile is no
    slower than a 512 px one on the CPU (docs/generation.md).
    """
    if size <= max_tile:
        return size, [0]
    n = -(-(size - overlap) // (max_tile - overlap))
    tile = -(-(size + (n - 1) * overlap) // n)
    tile = min(max(-(-tile // multiple) * multiple, 2 * overlap), max_tile)
    return tile, _starts(size, tile, tile - overlap)


def _ramp(length: int, overlap: int, rise: bool, fall: bool) -> np.ndarray:
    """1-D blending weights over a tile, on the sides that have a neighbour.

    In an overlap of ``overlap`` px the outer quarter gets weight 0 (those pixels see the tile's
    zero padding), the middle half ramps linearly and the inner quarter gets 1; the two tiles'
    weights sum to 1 across the overlap.
    """
    w = np.ones(length, dtype=np.float32)
    if overlap > 0:
        pos = np.arange(overlap, dtype=np.float32) + 0.5
        ramp = np.clip((pos - overlap / 4) / (overlap / 2), 0.0, 1.0)
        if rise:
            w[:overlap] = np.minimum(w[:overlap], ramp)
        if fall:
            w[-overlap:] = np.minimum(w[-overlap:], ramp[::-1])
    return w


def paint(generator: torch.nn.Module, layers: np.ndarray, *, seed: int = 0, noise: bool = True,
          tile: int | None = None, overlap: int | None = None, device: str | torch.device = "cpu",
          progress: Callable[[int, int], None] | None = None, name: str | None = None,
          style: np.ndarray | None = None, channels_last: bool = True, precision: str = "fp32") -> np.ndarray:
    """Generator output in [-1, 1] (H, W) float32 for bool ``layers`` (C, H, W), tile by tile.

    ``style`` (float32, one value per style channel) is appended to every tile as constant channels.
    ``channels_last`` runs the generator in that memory format, as training does by default (1.6x the
    speed of contiguous tiles for the 1x-k3 generalist on a 2-core CPU; the same values up to float
    rounding). ``precision="bf16"`` runs the generator under bfloat16 autocast (a CPU with native
    bf16, such as avx512_bf16, paints about 2x faster; the output moves by about 0.001 of its range).

    Every tile's output is checked (shape ``(1, 1, h, w)``, finite values); a generator that breaks
    that, or raises, is reported as that plugin's failure (``name``: its registry name).

    The input is padded with background to the generator's size multiple; tiles of at most ``tile``
    px (:data:`MAX_TILE` by default; :func:`tile_plan` takes the fewest and shortest that cover the
    image) overlap by ``overlap`` px and are blended with ramps that ignore each tile's outer margin.
    BatchNorm uses running statistics and dropout noise is positional (see
    :class:`nucgan.noise.PositionalDropout`), so the result does not depend on the tiling beyond
    small border effects.
    """
    m = int(getattr(generator, "size_multiple", 1))
    tile = tile if tile is not None else -(-MAX_TILE // m) * m  # defaults that suit any depth (6 levels: m = 128)
    overlap = overlap if overlap is not None else max(64, m)
    if tile % m or overlap % m:
        raise InputError(f"tile ({tile}) and overlap ({overlap}) must be multiples of the model's size multiple {m}")
    if overlap * 2 > tile:
        raise InputError(f"overlap ({overlap}) must be at most half the tile ({tile})")
    _, h, w = layers.shape
    ph, pw = -(-h // m) * m, -(-w // m) * m
    (th, rows), (tw, cols) = tile_plan(ph, tile, overlap, m), tile_plan(pw, tile, overlap, m)
    out = np.zeros((h, w), dtype=np.float32)
    weight = np.zeros((h, w), dtype=np.float32)
    check_precision(precision)
    keep_freed_memory()  # each tile's activations reuse the last tile's memory instead of faulting in new pages
    if precision == "bf16" and torch.device(device).type not in ("cpu", "cuda"):
        raise InputError(f"precision bf16 runs on cpu or cuda, not {torch.device(device).type}")
    slow = bf16_slow_warning(device, "precision bf16") if precision == "bf16" else None
    if slow:  # shown once per process: the same line from every tile's caller
        warnings.warn(slow, stacklevel=2)
    generator.eval()
    autocast = (torch.autocast(torch.device(device).type, dtype=torch.bfloat16) if precision == "bf16"
                else contextlib.nullcontext())
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32  # what autocast's first convolution would cast to
    if not all(q.is_contiguous(memory_format=memory_format) for q in generator.parameters() if q.dim() == 4):
        generator.to(memory_format=memory_format)  # once per model: walking every module costs 1.7 ms a call
    noise_hooks = PositionalDropout(generator, seed) if noise else None
    total, done = len(rows) * len(cols), 0
    ramps_y = {y: _ramp(th, overlap, y > 0, y + th < ph) for y in rows}
    ramps_x = {x: _ramp(tw, overlap, x > 0, x + tw < pw) for x in cols}
    try:
        with torch.inference_mode(), autocast:
            for y in rows:
                for x in cols:
                    t = tile_input(layers[:, y:y + th, x:x + tw], (th, tw), style, dtype, channels_last, device)
                    if noise_hooks:
                        noise_hooks.offsets, noise_hooks.tile = [(y, x)], (th, tw)
                    pred = checked_output(generator, t, name)
                    wy, wx = ramps_y[y], ramps_x[x]
                    hh, ww = min(th, h - y), min(tw, w - x)
                    if hh > 0 and ww > 0:
                        wt = np.outer(wy[:hh], wx[:ww])
                        out[y:y + hh, x:x + ww] += wt * pred[:hh, :ww]
                        weight[y:y + hh, x:x + ww] += wt
                    done += 1
                    if progress:
                        progress(done, total)
    finally:
        if noise_hooks:
            noise_hooks.remove()
    np.divide(out, weight, out=out, where=weight > 0)
    return out


def generate(model: Any, labels: np.ndarray, *, seed: int = 0, samples: int = 1, noise: bool = True,
             tile: int | None = None, overlap: int | None = None, output: str = "source", device: "str | torch.device" = "cpu",
             progress: Callable[[int, int], None] | None = None, like: Any = None,
             channels_last: bool = True, precision: str = "fp32", sensor_noise: bool = False,
             nucleus_spread: float = 1.0, signal_noise: bool = False) -> np.ndarray:
    """An image (or ``samples`` images) painted by ``model`` for instance ``labels``, any size.

    ``model`` is a zoo id, run directory, generator file or ``nucgan.zoo.load(...)`` result;
    ``labels`` a 2-D instance label image (layered with the model's own settings and ``seed``) or a
    pre-layered stack. ``output="source"`` maps values back to the training image's intensity range
    and dtype; ``"float"`` returns the model's raw [-1, 1] output. With ``samples > 1`` the result
    has a leading sample axis; sample ``i`` uses dropout noise seed ``seed + i`` (pix2pix noise).
    A model trained with a style input paints in the style of ``like`` (an image array or file: its
    statistics are measured, and ``"source"`` output returns to its intensity range), or without
    ``like`` in the style of a training image drawn with ``seed``. ``channels_last=False`` keeps the
    generator's tiles contiguous (for a plugin whose forward needs that); ``precision`` is ``"fp32"`` or
    ``"bf16"`` (see :func:`paint`). ``sensor_noise`` (models with a style input) adds white noise up to
    the style's background noise level (:func:`nucgan.sensor.add_sensor_noise`; sample ``i`` seeded
    ``seed + i``), the grain a generator's smooth painting lacks; ``signal_noise`` (with it) makes that noise
    grow with the signal inside the nuclei, as shot noise does. ``nucleus_spread`` > 1 widens the
    brightness differences between nuclei by that factor (:func:`nucgan.nucleus_spread.spread_nuclei`,
    before the sensor noise), which a generator evens out; 1 leaves them as painted.
    """
    if samples < 1:
        raise InputError(f"samples must be >= 1, got {samples}")
    if output not in {"source", "float"}:
        raise InputError(f"output must be 'source' or 'float', got {output!r}")
    check_precision(precision)
    check_spread(nucleus_spread)
    from nucgan.devices import pick_device

    device = pick_device(str(device))  # before the model loads: a bad device name is the user's mistake, not a crash
    zm = load_model(model)
    record = pick_style(zm.input, like, seed, getattr(zm, "name", "the model"))
    style = zm.input.style_values(record) if record is not None else None
    sensor_noise = resolve_sensor_noise(zm, sensor_noise)
    resolve_signal_noise(sensor_noise, signal_noise, zm)
    layers = conditioning(zm, labels, seed=seed)
    generator = zm.generator.to(device)
    images = [paint(generator, layers, seed=seed + i, noise=noise, tile=tile, overlap=overlap, device=device,
                    progress=progress, name=zm.info.name, style=style, channels_last=channels_last,
                    precision=precision)
              for i in range(samples)]
    if nucleus_spread != 1.0:
        from nucgan.nucleus_spread import instance_labels, spread_nuclei

        instances = (np.asarray(labels) if np.ndim(labels) == 2  # a stack: its mask channels, not the merged one
                     else instance_labels(layers[int(zm.input.merged):]))
        images = [spread_nuclei(image, instances, nucleus_spread, seed + i) for i, image in enumerate(images)]
    if sensor_noise:
        from nucgan.sensor import add_sensor_noise

        nuclei = layers.any(axis=0)
        images = [add_sensor_noise(image, record, nuclei, seed + i, signal=bool(signal_noise))
                  for i, image in enumerate(images)]
    result = np.stack(images) if samples > 1 else images[0]
    if output == "float":
        return result
    if record is not None:
        return record.normalization.inverse(result)
    return to_source(result, zm.input)


def pick_style(settings: "InputSettings", like: Any, seed: int, model_name: str = "the model") -> "StyleRecord | None":
    """The style to paint in: measured on ``like`` (array or image file), else a training image's drawn with ``seed``.

    None for a model without a style input; ``like`` for such a model is refused (it cannot apply).
    """
    from nucgan.style import StyleRecord, measure_record

    if not settings.style:
        if like is not None:
            raise InputError(f"--like: {model_name} takes no style input (it was trained without --style); "
                             f"drop --like or use a model trained with one")
        return None
    if isinstance(like, StyleRecord):
        return like
    if like is not None:
        if isinstance(like, (str, os.PathLike)):
            from nucgan.io import read_image

            return measure_record(read_image(like), settings.percentiles, str(like))
        return measure_record(np.asarray(like), settings.percentiles, "like")
    if not settings.styles:
        raise InputError(f"{model_name}: takes a style input but holds no training styles; give like=")
    return settings.styles[int(np.random.default_rng([seed, 5]).integers(len(settings.styles)))]


def plugin_label(kind: str, name: str | None) -> str:
    """``generator 'unet' (package nucgan 0.1.0)``: who to blame for a component's failure."""
    from importlib import metadata

    from nucgan.registry import resolve

    if not name:
        return f"the {kind}"
    try:
        package = resolve(f"{kind}s", name).package
    except Exception:  # noqa: BLE001 - naming the culprit must not fail in turn
        return f"{kind} {name!r}"
    try:
        version = metadata.version(package)
    except metadata.PackageNotFoundError:
        version = "(version unknown)"
    return f"{kind} {name!r} (package {package} {version})"


PRECISIONS = ("fp32", "bf16")


def check_spread(factor: float) -> float:
    """``factor`` if it is a valid nucleus spread (a finite number >= 1), else a one-line error before any work."""
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not np.isfinite(factor) or factor < 1.0:
        raise InputError(f"nucleus spread must be a number >= 1 (1 = as painted), got {factor!r}")
    return float(factor)


def resolve_nucleus_spread(model: Any, factor: float | None) -> float:
    """The nucleus spread factor to paint with: as asked, or (None, synth's default) the model's default.

    The default is :data:`nucgan.nucleus_spread.DEFAULT_FACTOR` for a model with a style input (the
    one it was chosen for, on held-out train images) and 1 (as painted) for any other.
    """
    if factor is not None:
        return check_spread(factor)
    from nucgan.nucleus_spread import DEFAULT_FACTOR

    return DEFAULT_FACTOR if model.input.style else 1.0


def resolve_signal_noise(sensor_noise: bool, signal_noise: bool | None, model: Any = None) -> bool:
    """Whether the sensor noise grows with the signal: as asked, or (None, synth's default) :data:`SIGNAL_DEFAULT`
    when there is sensor noise. Asked for without sensor noise, it cannot apply: a one-line error (naming
    the model when it has no style input, so no sensor noise at all)."""
    if signal_noise is None:
        return SIGNAL_DEFAULT and sensor_noise
    if signal_noise and not sensor_noise and model is not None and not model.input.style:
        raise InputError(f"--signal-noise: {getattr(model, 'name', 'the model')} takes no style input (it was trained "
                         "without --style), so it gets no sensor noise to shape; drop --signal-noise")
    if signal_noise and not sensor_noise:
        raise InputError("--signal-noise shapes the sensor noise, which is off here; add --sensor-noise or drop --signal-noise")
    return bool(signal_noise)


#: synth's default for the signal-dependent part of its sensor noise (see docs/generation.md for the choice)
SIGNAL_DEFAULT = False


def resolve_sensor_noise(model: Any, sensor_noise: bool | None) -> bool:
    """Whether to add sensor noise: as asked, or (None, synth's default) for a model with a style input.

    Asked for a model without one, it is refused before any work: there is no noise level to match.
    """
    if sensor_noise is None:
        return bool(model.input.style)
    if sensor_noise and not model.input.style:
        raise InputError(f"--sensor-noise: {getattr(model, 'name', 'the model')} takes no style input (it was trained without --style), "
                         f"so there is no noise level to match; drop --sensor-noise or use a model trained with one")
    return bool(sensor_noise)


def check_precision(precision: str) -> None:
    """Refuse a precision generation does not offer, before any work."""
    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")


def tile_input(src: np.ndarray, size: tuple[int, int], style: np.ndarray | None, dtype: torch.dtype,
               channels_last: bool, device: "str | torch.device" = "cpu") -> torch.Tensor:
    """One tile's (1, C, h, w) generator input: bool layers as -1/1 (zero-padded to ``size``), then the style planes.

    Written once, straight into the memory format and dtype the generator runs in: building it in
    float32 and converting afterwards cost two full copies of the 10-channel tile, 5 of the 32 ms
    of a 512 px bf16 tile on a 2-core CPU. The values are those of that conversion.
    """
    th, tw = size
    n_style = 0 if style is None else len(style)
    channels = src.shape[0] + n_style
    if channels_last:  # (1, h, w, C) storage, viewed as (1, C, h, w): the channels-last layout itself
        t = torch.full((1, th, tw, channels), -1.0, dtype=dtype).permute(0, 3, 1, 2)
    else:
        t = torch.full((1, channels, th, tw), -1.0, dtype=dtype)
    h, w = src.shape[1:]
    masks = t[0, :src.shape[0], :h, :w]
    masks.masked_fill_(torch.from_numpy(np.ascontiguousarray(src)), 1.0)
    if n_style:
        t[0, src.shape[0]:] = torch.as_tensor(style, dtype=torch.float32).to(dtype)[:, None, None]
    return t.to(device)


def checked_output(generator: torch.nn.Module, x: torch.Tensor, name: str | None) -> np.ndarray:
    """The generator's (H, W) output for one tile, refusing a failure, a wrong shape or non-finite values."""
    from nucgan.errors import NucganError, PluginError

    try:
        out = generator(x)
    except NucganError:
        raise
    except Exception as exc:  # noqa: BLE001 - a plugin's bug is reported as that plugin's, not as ours
        raise PluginError(f"{plugin_label('generator', name)} failed in forward on a {tuple(x.shape)} input: "
                          f"{type(exc).__name__}: {exc}") from exc
    want = (x.shape[0], 1, *x.shape[-2:])
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != want:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise PluginError(f"{plugin_label('generator', name)} returned {got} for a {tuple(x.shape)} input; "
                          f"expected {want} (one image channel, the input's size)")
    pred = out[0, 0].float().cpu().numpy()
    if not np.isfinite(pred).all():
        bad = int((~np.isfinite(pred)).sum())
        raise PluginError(f"{plugin_label('generator', name)} returned {bad} non-finite value(s) (NaN or inf) in a "
                          f"{want[-2]} x {want[-1]} tile; nothing was written")
    return pred


def to_source(x: np.ndarray, settings: "InputSettings") -> np.ndarray:
    """Map [-1, 1] model output back to the training data's intensity range and dtype (unchanged without one)."""
    if settings.normalization is None:
        return x
    return settings.normalization.inverse(x)
