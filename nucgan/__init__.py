"""nucgan: realistic nucleus microscopy images from instance masks, with pix2pix-style GANs.

Importing ``nucgan`` is cheap: torch, plugins and the registry load on first use of a name.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from nucgan._version import __version__

# public name -> module that defines it (resolved lazily, PEP 562)
_LAZY = {
    "NucganError": "nucgan.errors", "InputError": "nucgan.errors", "UnknownNameError": "nucgan.errors",
    "AmbiguousNameError": "nucgan.errors", "PluginError": "nucgan.errors", "LayeringError": "nucgan.errors",
    "GeneratorSpec": "nucgan.specs", "DiscriminatorSpec": "nucgan.specs", "LayererSpec": "nucgan.specs",
    "DatasetSpec": "nucgan.specs", "SamplerSpec": "nucgan.specs",
    "hookimpl": "nucgan.hookspecs",
    "Generator": "nucgan.interfaces", "Discriminator": "nucgan.interfaces", "Layerer": "nucgan.interfaces",
    "Dataset": "nucgan.interfaces", "Sampler": "nucgan.interfaces", "TrainableSampler": "nucgan.interfaces",
    "SceneSampler": "nucgan.interfaces", "Scene": "nucgan.interfaces",
    "create_generator": "nucgan.registry", "create_discriminator": "nucgan.registry",
    "create_layerer": "nucgan.registry", "create_dataset": "nucgan.registry", "create_sampler": "nucgan.registry",
    "list_generators": "nucgan.registry", "list_discriminators": "nucgan.registry",
    "list_layerers": "nucgan.registry", "list_datasets": "nucgan.registry", "list_samplers": "nucgan.registry",
    # models (activations, model info)
    "create_activation": "nucgan.activations", "check_activation": "nucgan.activations",
    "list_activations": "nucgan.activations",
    "ParameterCount": "nucgan.modelinfo", "count_parameters": "nucgan.modelinfo", "ModelReport": "nucgan.modelinfo",
    "describe_model": "nucgan.modelinfo", "reproduce_table1": "nucgan.modelinfo",
    # data (layering, readers, normalisation, tiles)
    "layer": "nucgan.layering", "unlayer": "nucgan.layering", "check_labels": "nucgan.layering",
    "read_image": "nucgan.io", "read_labels": "nucgan.io", "read_pair": "nucgan.io",
    "write_tiff": "nucgan.io", "write_png": "nucgan.io",
    "Normalization": "nucgan.normalize",
    "TilesDataset": "nucgan.tiles", "TrainingPair": "nucgan.tiles", "InputSettings": "nucgan.inputs", "Region": "nucgan.regions",
    # model files and zoo
    "save_generator": "nucgan.modelfile", "load_generator": "nucgan.modelfile", "ModelInfo": "nucgan.modelfile",
    "load": "nucgan.zoo.loading", "resolve_model": "nucgan.zoo.loading", "ZooModel": "nucgan.zoo.loading", "ZooError": "nucgan.zoo.errors",
    # samplers and layouts
    "read_label_image": "nucgan.shapes", "instance_shapes": "nucgan.shapes", "shape_stats": "nucgan.shapes", "distribution_distance": "nucgan.shapes",
    "nearest_real_iou": "nucgan.shapes", "sampler_report": "nucgan.shapes",
    "place": "nucgan.layout", "read_placement_mask": "nucgan.layout",
    # training, generation, synthesis, evaluation
    "train": "nucgan.training", "TrainConfig": "nucgan.training",
    "generate": "nucgan.generation", "synthesise": "nucgan.synth", "SynthPlan": "nucgan.synth",
    "evaluate": "nucgan.quality.evaluate",
}
_SUBMODULES = {"plugins", "zoo"}
#: old public name -> (new name, module); each works for one more release, with a DeprecationWarning
_DEPRECATED = {"Source": ("TrainingPair", "nucgan.tiles"),
               "read_region": ("read_placement_mask", "nucgan.layout"),  # it reads a mask image, not a Region
               # helpers only plugins need moved to nucgan.plugin_api
               **{name: (f"plugin_api.{name}", "nucgan.plugin_api") for name in (
                   "check_tensor", "atomic_path", "transform_shape", "largest_component", "crop_to_content",
                   "image_files", "gap_graph", "GapGraph")}}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"nucgan.{name}")
    if name in _DEPRECATED:
        import warnings

        new, module = _DEPRECATED[name]
        warnings.warn(f"nucgan.{name} is deprecated; use nucgan.{new} (removed in 0.3)", DeprecationWarning,
                      stacklevel=2)
        return getattr(importlib.import_module(module), new.rpartition(".")[2])
    raise AttributeError(f"module 'nucgan' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(__all__) | _SUBMODULES)


if TYPE_CHECKING:  # for type checkers and IDEs; at run time these load lazily
    from nucgan.activations import check_activation, create_activation, list_activations  # noqa: F401
    from nucgan.errors import (AmbiguousNameError, InputError, LayeringError, NucganError,  # noqa: F401
                               PluginError, UnknownNameError)
    from nucgan.hookspecs import hookimpl  # noqa: F401
    from nucgan.modelfile import ModelInfo, load_generator, save_generator  # noqa: F401
    from nucgan.interfaces import (Dataset, Discriminator, Generator, Layerer, Sampler, Scene,  # noqa: F401
                                   SceneSampler, TrainableSampler,
                                   check_tensor)
    from nucgan.io import (image_files, read_image, read_labels, read_pair, write_png,  # noqa: F401
                           write_tiff)
    from nucgan.layering import GapGraph, check_labels, gap_graph, layer, unlayer  # noqa: F401
    from nucgan.inputs import InputSettings  # noqa: F401
    from nucgan.normalize import Normalization  # noqa: F401
    from nucgan.regions import Region  # noqa: F401
    from nucgan.tiles import TilesDataset, TrainingPair  # noqa: F401
    from nucgan.modelinfo import (ModelReport, ParameterCount, count_parameters, describe_model,  # noqa: F401
                                  reproduce_table1)
    from nucgan.registry import (create_dataset, create_discriminator, create_generator,  # noqa: F401
                                 create_layerer, create_sampler, list_datasets, list_discriminators,
                                 list_generators, list_layerers, list_samplers)
    from nucgan.specs import (DatasetSpec, DiscriminatorSpec, GeneratorSpec, LayererSpec,  # noqa: F401
                              SamplerSpec)
    from nucgan.zoo.errors import ZooError  # noqa: F401
    from nucgan.zoo.loading import ZooModel, load, resolve_model  # noqa: F401
    # samplers and layouts
    from nucgan.atomic import atomic_path  # noqa: F401
    from nucgan.layout import place, read_placement_mask  # noqa: F401
    from nucgan.shapes import (crop_to_content, distribution_distance, instance_shapes,  # noqa: F401
                               largest_component, nearest_real_iou, read_label_image, sampler_report,
                               shape_stats, transform_shape)
    # training, generation, synthesis, evaluation
    from nucgan.generation import generate  # noqa: F401
    from nucgan.quality.evaluate import evaluate  # noqa: F401
    from nucgan.synth import SynthPlan, synthesise  # noqa: F401
    from nucgan.training import TrainConfig, train  # noqa: F401
