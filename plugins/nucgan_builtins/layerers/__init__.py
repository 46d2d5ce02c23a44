"""Built-in layerers: ``coloring`` (randomised graph colouring, the default) and ``first-fit`` (the paper's)."""
