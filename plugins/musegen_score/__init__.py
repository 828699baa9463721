"""Sheet music: each tune engraved as SVG by verovio, in worker processes a crash cannot take down."""

import musegen
from musegen_score.config import ScoreConfig


@musegen.hookimpl
def register_renderers(register):
    register(
        "score",
        "musegen_score.renderer:ScoreRenderer",
        config=ScoreConfig,
        summary="an .svg of sheet music per tune (verovio; MIDI pieces through MusicXML)",
    )
