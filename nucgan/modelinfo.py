"""Model facts without memory: parameter counts on the meta device, layer summary, FLOPs, the paper's Table 1.

Everything here builds models on PyTorch's ``meta`` device (shapes, no storage), so describing the
1.2-billion-parameter U-Net costs no memory and no time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterator, Sequence

import torch
from torch import nn

from nucgan.errors import InputError, UnknownNameError


@dataclass(frozen=True)
class ParameterCount:
    """Parameter counts of a model; ``paper`` is Keras' total, the number the paper's Table 1 reports."""

    trainable: int
    frozen: int
    bn_stats: int  # BatchNorm running-mean and running-variance elements (Keras counts them as weights)

    @property
    def total(self) -> int:
        """All parameters, trainable or not (PyTorch's usual count)."""
        return self.trainable + self.frozen

    @property
    def paper(self) -> int:
        """Parameters plus BatchNorm running statistics: Keras' ``count_params`` and the paper's Table 1."""
        return self.total + self.bn_stats


def count_parameters(model: nn.Module) -> ParameterCount:
    """Count ``model``'s trainable and frozen parameters and BatchNorm running-statistics elements."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    stats = 0
    for m in model.modules():
        for attr in ("running_mean", "running_var"):
            t = getattr(m, attr, None)
            if isinstance(t, torch.Tensor):
                stats += t.numel()
    return ParameterCount(trainable, frozen, stats)


def _kind_of(name: str, kind: str | None) -> str:
    """'generator' or 'discriminator' for ``name``: as given, else whichever registry knows it."""
    from nucgan.registry import resolve

    if kind is not None:
        if kind not in ("generator", "discriminator"):
            raise InputError(f"kind must be 'generator' or 'discriminator', got {kind!r}")
        return kind
    try:
        resolve("generators", name)
        return "generator"
    except UnknownNameError as gen_error:
        try:
            resolve("discriminators", name)
            return "discriminator"
        except UnknownNameError:
            raise gen_error from None


def build_on_meta(name: str, kind: str | None = None, **kwargs: Any) -> nn.Module:
    """Build a registered generator or discriminator on the meta device: shapes only, no memory."""
    from nucgan.registry import create_discriminator, create_generator

    create = create_generator if _kind_of(name, kind) == "generator" else create_discriminator
    with torch.device("meta"):
        return create(name, **kwargs)


@dataclass(frozen=True)
class LayerRow:
    """One module of a summary: dotted name, nesting depth, type, output shape, parameters, forward FLOPs."""

    name: str
    depth: int
    type: str
    output: tuple[int, ...] | None
    params: int
    flops: int


@dataclass
class ModelReport:
    """What ``nucgan models show`` prints: the layer summary, stage outputs, counts and FLOPs."""

    name: str
    kind: str
    config: dict[str, Any]
    inputs: list[tuple[int, ...]]
    output: tuple[int, ...]
    counts: ParameterCount
    flops: int
    rows: list[LayerRow] = field(default_factory=list)
    stages: list[LayerRow] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (``--json``)."""
        d = asdict(self)
        d["counts"] = {**asdict(self.counts), "total": self.counts.total, "paper": self.counts.paper}
        return d


def _shape(value: Any) -> tuple[int, ...] | None:
    if isinstance(value, torch.Tensor):
        return tuple(value.shape)
    if isinstance(value, (list, tuple)) and value and isinstance(value[-1], torch.Tensor):
        return tuple(value[-1].shape)
    return None


def _stage_names(module: nn.Module, prefix: str = "") -> Iterator[str]:
    """The model's blocks: its children, looking through ModuleList/ModuleDict and a model-wide Sequential."""
    children = list(module.named_children())
    for name, child in children:
        lone_sequential = not prefix and isinstance(child, nn.Sequential) and len(children) == 1
        if isinstance(child, (nn.ModuleList, nn.ModuleDict)) or lone_sequential:
            yield from _stage_names(child, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}"


def describe_model(name: str, kwargs: dict[str, Any] | None = None, *, kind: str | None = None,
                   size: int | Sequence[int] = 128, batch: int = 1, depth: int = 2) -> ModelReport:
    """Summarise a registered model built with ``kwargs`` at a tile size: layers, stage sizes, counts, FLOPs.

    ``size`` is N or (H, W); ``depth`` limits the layer summary's nesting. Built on the meta device.
    """
    from torch.utils.flop_counter import FlopCounterMode

    kind = _kind_of(name, kind)
    model = build_on_meta(name, kind, **(kwargs or {})).eval()
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    inputs = [torch.zeros(batch, model.in_channels, h, w, device="meta")]
    if kind == "discriminator":
        inputs.append(torch.zeros(batch, 1, h, w, device="meta"))

    modules = dict(model.named_modules())
    shapes: dict[str, tuple[int, ...] | None] = {}
    order: dict[str, int] = {}
    handles = []
    for mod_name, module in modules.items():
        if mod_name:
            def hook(_m: nn.Module, _i: Any, out: Any, key: str = mod_name) -> None:
                shapes[key] = _shape(out)
                order.setdefault(key, len(order))
            handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad(), FlopCounterMode(display=False, depth=None) as counter:
            output = model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    root = type(model).__name__
    per_module = {key.partition(".")[2]: sum(ops.values()) for key, ops in counter.get_flop_counts().items()
                  if key.startswith(root + ".")}

    def row(mod_name: str) -> LayerRow:
        module = modules[mod_name]
        return LayerRow(mod_name, mod_name.count(".") + 1, type(module).__name__, shapes.get(mod_name),
                        sum(p.numel() for p in module.parameters()), per_module.get(mod_name, 0))

    rows = [row(n) for n in modules if n and n.count(".") < depth]
    stages = [row(n) for n in sorted(_stage_names(model), key=lambda n: order.get(n, len(order)))]
    return ModelReport(name, kind, model.config(), [tuple(t.shape) for t in inputs], tuple(output.shape),
                       count_parameters(model), int(counter.get_total_flops()), rows, stages)


# -- the paper's Table 1 ---------------------------------------------------------------------------------

#: (model, filters, kernel) -> counts for (4 levels, 4 ch), (4 levels, 5 ch), (6 levels, 4 ch), (6 levels, 5 ch)
PAPER_TABLE1: dict[tuple[str, int, int], tuple[int, int, int, int]] = {
    ("1x", 16, 3): (883_873, 884_017, 14_164_129, 14_164_273),
    ("1x", 32, 3): (3_528_001, 3_528_289, 56_630_593, 56_630_881),
    ("1x", 64, 3): (14_097_025, 14_097_601, 226_470_529, 226_471_105),
    ("1x", 16, 5): (2_450_081, 2_450_481, 39_323_297, 39_323_697),
    ("1x", 32, 5): (9_789_761, 9_790_561, 157_264_193, 157_264_993),
    ("1x", 64, 5): (39_137_921, 39_139_521, 628_998_785, 629_000_385),
    ("1x", 16, 7): (4_799_393, 4_800_177, 77_062_049, 77_062_833),
    ("1x", 32, 7): (19_182_401, 19_183_969, 308_214_593, 308_216_161),
    ("1x", 64, 7): (76_699_265, 76_702_401, 1_232_791_169, 1_232_794_305),
    ("2x", 16, 3): (1_767_890, 1_768_178, 28_328_402, 28_328_690),
    ("2x", 16, 5): (4_900_562, 4_901_362, 78_646_994, 78_647_794),
    ("2x", 16, 7): (9_599_570, 9_601_138, 154_124_882, 154_126_450),
    ("3x", 16, 3): (2_652_051, 2_652_483, 42_492_819, 42_493_251),
    ("3x", 16, 5): (7_351_443, 7_352_643, 117_971_091, 117_972_291),
    ("3x", 16, 7): (14_400_531, 14_402_883, 231_188_499, 231_190_851),
}
#: Table 1's columns as (levels, input channels)
TABLE1_COLUMNS: tuple[tuple[int, int], ...] = ((4, 4), (4, 5), (6, 4), (6, 5))
#: the paper's variants: label, registry name, activations (None: a single U-Net with tanh)
TABLE1_VARIANTS: tuple[tuple[str, str, tuple[str, ...] | None], ...] = (
    ("1x", "unet", None),
    ("2x a", "chain2", ("tanh", "tanh")),
    ("2x b", "chain2", ("gelu", "tanh")),
    ("3x a", "chain3", ("tanh", "tanh", "tanh")),
    ("3x b", "chain3", ("tanh", "gelu", "tanh")),
)


@dataclass(frozen=True)
class Table1Entry:
    """One cell of Table 1: the model as built through the registry, the paper's count and ours."""

    variant: str
    generator: str
    kwargs: dict[str, Any]
    filters: int
    kernel_size: int
    levels: int
    in_channels: int
    paper: int
    ours: int

    @property
    def ok(self) -> bool:
        """True where the reproduced count equals the paper's."""
        return self.paper == self.ours


def table1_grid() -> list[tuple[str, str, dict[str, Any], int]]:
    """Every Table 1 entry as (variant, generator name, kwargs, the paper's count): 84 of them."""
    grid = []
    for variant, gen, acts in TABLE1_VARIANTS:
        for (model, f, k), counts in PAPER_TABLE1.items():
            if model != variant.split()[0]:
                continue
            for (levels, channels), paper in zip(TABLE1_COLUMNS, counts):
                kwargs: dict[str, Any] = {"in_channels": channels, "filters": f, "kernel_size": k, "levels": levels}
                kwargs.update({"activation": "tanh"} if acts is None else {"activations": list(acts)})
                grid.append((variant, gen, kwargs, paper))
    return grid


def reproduce_table1() -> list[Table1Entry]:
    """Build every model of the paper's Table 1 on the meta device and count it as Keras did."""
    out = []
    for variant, gen, kwargs, paper in table1_grid():
        ours = count_parameters(build_on_meta(gen, "generator", **kwargs)).paper
        out.append(Table1Entry(variant, gen, kwargs, kwargs["filters"], kwargs["kernel_size"], kwargs["levels"],
                               kwargs["in_channels"], paper, ours))
    return out


__all__ = [
    "ParameterCount", "count_parameters", "build_on_meta", "LayerRow", "ModelReport", "describe_model",
    "PAPER_TABLE1", "TABLE1_COLUMNS", "TABLE1_VARIANTS", "Table1Entry", "table1_grid", "reproduce_table1",
]
