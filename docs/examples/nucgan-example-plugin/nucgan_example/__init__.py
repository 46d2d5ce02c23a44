"""An example nucgan plugin package: one tiny generator."""
