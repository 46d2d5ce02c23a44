"""Built-in discriminators: the paper's PatchGAN, pix2pix's 70 x 70 PatchGAN and a 3 x 3 texture PatchGAN."""
