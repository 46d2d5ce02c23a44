"""Measured quality: instance matching, image fidelity, intensity realism, the judge segmenter, baselines."""
