"""Every built-in component by kind; factories are lazy ``"module:attr"`` strings."""

from __future__ import annotations

from nucgan.plugin_api import DatasetSpec, DiscriminatorSpec, GeneratorSpec, LayererSpec, SamplerSpec

_P = "nucgan_builtins"

GENERATORS: list[GeneratorSpec] = [
    GeneratorSpec("unet", f"{_P}.generators.unet:UNet",
                  "The paper's U-Net stage: stride-2 encoder, `levels` skip connections, Keras defaults."),
    GeneratorSpec("chain", f"{_P}.generators.chain:Chain",
                  "`stages` generators in series, each seeing the input plus all earlier outputs."),
    GeneratorSpec("chain2", f"{_P}.generators.chain:Chain2", "The paper's 2x U-Net (two chained stages)."),
    GeneratorSpec("chain3", f"{_P}.generators.chain:Chain3",
                  "The paper's 3x U-Net (three chained stages; tanh,gelu,tanh by default)."),
    GeneratorSpec("unetpp", f"{_P}.generators.unetpp:UNetPP",
                  "UNet++: nested, densely connected skip pathways, optional deep supervision."),
    GeneratorSpec("timm-unet", f"{_P}.generators.timm_unet:TimmUNet",
                  "A U-Net decoder over any timm features_only encoder (resnet18, convnext_nano, ...)."),
]

DISCRIMINATORS: list[DiscriminatorSpec] = [
    DiscriminatorSpec("patchgan-paper", f"{_P}.discriminators.patchgan_paper:PatchGANPaper",
                      "The paper's PatchGAN: kernel-2 convolutions, 18 x 18 logits for 128 px inputs."),
    DiscriminatorSpec("patchgan", f"{_P}.discriminators.patchgan:PatchGAN",
                      "pix2pix's 70 x 70 PatchGAN (4 x 4 kernels, n_layers=3)."),
    DiscriminatorSpec("patchgan-k3", f"{_P}.discriminators.patchgan_k3:PatchGANK3",
                      "3 x 3 stride-2 PatchGAN that reads every pixel (sees texture and noise); 31 px field."),
]

LAYERERS: list[LayererSpec] = [
    LayererSpec("coloring", f"{_P}.layerers.coloring:ColoringLayerer",
                "Randomised colouring of the gap graph: random order and free channel, Kempe-chain repair."),
    LayererSpec("first-fit", f"{_P}.layerers.first_fit:FirstFitLayerer",
                "The paper's random first-fit (lowest free channel), reshuffling instead of dropping masks."),
]

DATASETS: list[DatasetSpec] = [
    DatasetSpec("files", f"{_P}.datasets.files:files",
                "Explicit image and label files (TIFF, PNG, JPEG images), lazily tiled, layered and rotated."),
    DatasetSpec("stardist", f"{_P}.datasets.stardist:stardist",
                "A folder in StarDist layout: images/X and masks/X with the same file names."),
    DatasetSpec("cellpose", f"{_P}.datasets.cellpose:cellpose",
                "A folder in Cellpose layout: X.tif beside X_masks.tif."),
]

SAMPLERS: list[SamplerSpec] = [
    SamplerSpec("ellipse", f"{_P}.samplers.ellipse:EllipseSampler",
                "Parametric ellipses with jittered axes, orientation and a smooth boundary wobble."),
    SamplerSpec("bank", f"{_P}.samplers.bank:BankSampler",
                "Real nucleus shapes from a label image, randomly rotated, mirrored and optionally rescaled."),
    SamplerSpec("gan", f"{_P}.samplers.gan:GanSampler",
                "Novel shapes from a small mask GAN (paper); ships one trained on the DSB 2018 train half."),
    SamplerSpec("tissue", f"{_P}.samplers.tissue:TissueSampler",
                "Layout model: per-image density, size, touching and shapes learned from a label folder "
                "(ships one from dsb2018-fluo/train)."),
]
