"""What a plugin imports: the contracts, spec types, ``hookimpl`` and the helpers plugins need.

The built-ins (``nucgan_builtins``) and the example plugin use only this module, so a third-party
package can do what they do. User code needs the smaller top level (``nucgan.create_*``, ``train``,
``generate``, ...). Names load lazily: importing this module loads neither torch nor plugins.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from nucgan._version import __version__

_NAMES = {
    # errors a plugin raises
    "NucganError": "nucgan.errors", "InputError": "nucgan.errors", "LayeringError": "nucgan.errors",
    "PluginError": "nucgan.errors",
    # registering: the hook marker and the typed specs
    "hookimpl": "nucgan.hookspecs", "GeneratorSpec": "nucgan.specs", "DiscriminatorSpec": "nucgan.specs",
    "LayererSpec": "nucgan.specs", "DatasetSpec": "nucgan.specs", "SamplerSpec": "nucgan.specs",
    # the contracts
    "Generator": "nucgan.interfaces", "Discriminator": "nucgan.interfaces", "Layerer": "nucgan.interfaces",
    "Dataset": "nucgan.interfaces", "Sampler": "nucgan.interfaces", "TrainableSampler": "nucgan.interfaces",
    "SceneSampler": "nucgan.interfaces", "Scene": "nucgan.interfaces",
    "check_tensor": "nucgan.interfaces",
    # building blocks
    "create_activation": "nucgan.activations", "check_activation": "nucgan.activations",
    "create_generator": "nucgan.registry", "upgrade_generator_config": "nucgan.registry",
    "TilesDataset": "nucgan.tiles", "TrainingPair": "nucgan.tiles", "Normalization": "nucgan.normalize",
    "InputSettings": "nucgan.inputs", "NoiseInjection": "nucgan.noise",
    "read_pair": "nucgan.io", "image_files": "nucgan.io", "stardist_pairs": "nucgan.folders",
    "cellpose_pairs": "nucgan.folders", "atomic_path": "nucgan.atomic",
    "gap_graph": "nucgan.layering", "GapGraph": "nucgan.layering", "check_labels": "nucgan.layering",
    "instance_shapes": "nucgan.shapes", "transform_shape": "nucgan.shapes", "largest_component": "nucgan.shapes",
    "crop_to_content": "nucgan.shapes",
    "image_stats": "nucgan.labelstats", "label_files": "nucgan.labelstats", "read_labels": "nucgan.io",
    # safetensors files with JSON metadata: one reader/writer (header checked before allocation, no pickle)
    "check_shapes": "nucgan.safetensors_meta", "header_from_bytes": "nucgan.safetensors_meta",
    "load_tensors_bytes": "nucgan.safetensors_meta", "save_tensors": "nucgan.safetensors_meta",
    "read_header": "nucgan.safetensors_meta", "load_tensors": "nucgan.safetensors_meta",
}

__all__ = ["__version__", *_NAMES]


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'nucgan.plugin_api' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from nucgan.activations import check_activation, create_activation  # noqa: F401
    from nucgan.atomic import atomic_path  # noqa: F401
    from nucgan.errors import InputError, LayeringError, NucganError, PluginError  # noqa: F401
    from nucgan.hookspecs import hookimpl  # noqa: F401
    from nucgan.interfaces import (Dataset, Discriminator, Generator, Layerer, Sampler,  # noqa: F401
                                   Scene, SceneSampler, TrainableSampler, check_tensor)
    from nucgan.folders import cellpose_pairs, stardist_pairs  # noqa: F401
    from nucgan.io import image_files, read_labels, read_pair  # noqa: F401
    from nucgan.labelstats import image_stats, label_files  # noqa: F401
    from nucgan.layering import GapGraph, check_labels, gap_graph  # noqa: F401
    from nucgan.inputs import InputSettings  # noqa: F401
    from nucgan.noise import NoiseInjection  # noqa: F401
    from nucgan.normalize import Normalization  # noqa: F401
    from nucgan.registry import create_generator, upgrade_generator_config  # noqa: F401
    from nucgan.shapes import crop_to_content, instance_shapes, largest_component, transform_shape  # noqa: F401
    from nucgan.specs import DatasetSpec, DiscriminatorSpec, GeneratorSpec, LayererSpec, SamplerSpec  # noqa: F401
    from nucgan.tiles import TilesDataset, TrainingPair  # noqa: F401
