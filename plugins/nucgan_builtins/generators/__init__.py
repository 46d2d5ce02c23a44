"""Built-in generators: the paper's U-Net and chains, UNet++, and a U-Net over timm encoders."""
