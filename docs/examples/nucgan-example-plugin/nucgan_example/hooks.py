"""Hook implementations nucgan calls; nothing heavy is imported here."""

from nucgan.plugin_api import GeneratorSpec, hookimpl


@hookimpl
def register_generators():
    yield GeneratorSpec(
        name="example-tiny",
        factory="nucgan_example.tiny:TinyGenerator",
        description="Two-level encoder-decoder from the example plugin (tests and templates).",
    )
