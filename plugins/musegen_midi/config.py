from pydantic import BaseModel, ConfigDict, Field


class MidiEventsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tokenization: str = Field(
        "REMI",
        pattern="^(MIDILike|TSD|REMI)$",
        description="miditok's event scheme: REMI (bar, position, pitch, velocity, duration), "
        "TSD (time shift, pitch, velocity, duration) or MIDILike (note-on, "
        "note-off, time shift); a duration on each note leaves none hanging",
    )
    positions_per_beat: int = Field(24, ge=1, le=96, description="time resolution in the first 4 beats")
    velocities: int = Field(8, ge=1, le=127, description="velocity bins")
    pitch_low: int = Field(21, ge=0, le=127)
    pitch_high: int = Field(109, ge=1, le=128)
    transpose: list[int] = Field(
        default_factory=list, description="training copies shifted by these semitones, e.g. [-2, 2]"
    )
    normalize_key: bool = Field(
        False,
        description="train on every piece moved to C major or A minor (one scale to learn, not twelve); "
        "each generated piece is moved to a key signature drawn as often as the corpus has it",
    )
    max_beats: float = Field(512, gt=0, description="decoding stops a piece at this length")
    max_note_beats: float = Field(16, gt=0, description="decoding releases a note held longer than this")
    max_voices: int = Field(16, ge=1, le=128, description="decoding drops a note-on while this many notes sound")


class ChoraleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int | None = Field(None, ge=1, description="use at most this many chorales")
    cache_dir: str | None = Field(None, description="where converted MIDI files are kept; default ~/.cache/musegen")


class OneillsMidiConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int | None = Field(None, ge=1)


class MidiPathConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = ""
    limit: int | None = Field(None, ge=1)
