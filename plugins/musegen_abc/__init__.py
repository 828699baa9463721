"""ABC text as characters (the seed paper's encoder) and the ABC renderer."""

import musegen
from musegen_abc.config import AbcCharConfig, AbcRendererConfig


@musegen.hookimpl
def register_encoders(register):
    register(
        "abc-char",
        "musegen_abc.encoder:AbcCharEncoder",
        config=AbcCharConfig,
        aliases=("char",),
        summary="ABC notation, one token per character, plus an end-of-tune token",
    )


@musegen.hookimpl
def register_renderers(register):
    register(
        "abc",
        "musegen_abc.renderer:AbcRenderer",
        config=AbcRendererConfig,
        summary="one .abc file per tune, plus tunes.abc with them all",
    )
