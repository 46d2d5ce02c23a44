"""nucgan's built-in components, shipped as an ordinary plugin (entry point ``builtins`` in group ``nucgan``).

Only nucgan's public API is imported here. Each kind has a light catalog module listing its specs
with lazy ``"module:attr"`` factories, so listing components never imports torch.
"""
