from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class AbcCharConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    controls: bool = Field(
        True,
        description="learn each tune with a line of its type, meter, key and bars per "
        "part before its music, so that gen generate --type/--key/--parts/"
        "--bars can ask for them",
    )
    unknown: str = Field(
        "error",
        pattern="^(error|skip)$",
        description="characters outside the vocabulary when encoding: 'error' or 'skip'",
    )
    transpose: list[Annotated[int, Field(ge=-12, le=12)]] = Field(
        default_factory=list,
        description="training copies of each tune moved by these semitones (-12 to 12), e.g. [-2, 2, 5]",
    )
    transpose_keys: int = Field(
        0,
        ge=0,
        le=8,
        description="copies of each tune moved to keys drawn from the corpus's own keys of "
        "the same mode, so that keys keep their frequencies",
    )
    transpose_max_accidentals: int = Field(
        4, ge=0, le=7, description="keep a transposed copy only if its key has at most this many sharps or flats"
    )


class CheckerConfig(BaseModel):
    """Settings of abc-char's checker (``sample.checker.<name>``): how hard it tries, how headers are drawn."""

    model_config = ConfigDict(extra="forbid")
    bar_retries: int = Field(8, ge=0, le=1000, description="draws of one bar at most before it is kept as it is")
    header_temperature: float = Field(
        1.0,
        ge=0.01,
        le=100,
        description="temperature for a tune's header (meter, key; no top-k/top-p): 1.0 "
        "draws them as often as the model learned them; equal to the "
        "temperature: no difference",
    )


class AbcRendererConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    collection: str = Field("tunes.abc", description="file name of the collection holding every tune")
