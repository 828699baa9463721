"""See and hear: the listening page (``index.html`` beside every render) and ``gen serve``."""

import musegen
from musegen_web.config import PageConfig


@musegen.hookimpl
def register_renderers(register):
    register(
        "page",
        "musegen_web.page:PageRenderer",
        config=PageConfig,
        summary="index.html: every tune's sheet music, player, facts and downloads (written last)",
    )


@musegen.hookimpl
def register_commands(app):
    from musegen_web.command import add_serve

    add_serve(app)
