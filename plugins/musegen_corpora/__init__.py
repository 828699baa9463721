"""Default corpora: O'Neill's, Ryan's and the Essen folk songs from music21's installed corpus, or
any ``.abc`` file or folder."""

import musegen
from musegen_corpora.config import AbcCorpusConfig, PathCorpusConfig


@musegen.hookimpl
def register_corpora(register):
    register(
        "oneills",
        "musegen_corpora.abc:OneillsCorpus",
        config=AbcCorpusConfig,
        aliases=("oneills1850",),
        summary="O'Neill's Music of Ireland (1850): 2009 Irish tunes, from music21",
    )
    register(
        "ryans",
        "musegen_corpora.abc:RyansCorpus",
        config=AbcCorpusConfig,
        aliases=("ryansMammoth",),
        summary="Ryan's Mammoth Collection (1883): 1059 tunes, from music21",
    )
    register(
        "essen",
        "musegen_corpora.abc:EssenCorpus",
        config=AbcCorpusConfig,
        aliases=("essenFolksong",),
        summary="Essen folk song collection (European songs), from music21",
    )
    register(
        "path",
        "musegen_corpora.abc:PathCorpus",
        config=PathCorpusConfig,
        summary="an .abc file, or a folder of them (searched recursively)",
    )
