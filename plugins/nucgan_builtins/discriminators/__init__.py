"""Built-in discriminators: the paper's PatchGAN and pix2pix's 70 x 70 PatchGAN."""
