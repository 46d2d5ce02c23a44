"""Built-in mask samplers."""
