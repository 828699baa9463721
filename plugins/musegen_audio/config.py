from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from musegen import MusegenError


class SoundConfig(BaseModel):
    """What the midi and wav renderers share: the instrument and the tempo (see ``sound.py``)."""

    model_config = ConfigDict(extra="forbid")
    instrument: str = Field(
        "auto",
        description="a General MIDI program 0-127 or a name (fiddle, flute, whistle, "
        "accordion, piano, ...); auto: ABC tunes on fiddle, MIDI pieces on their own",
    )
    tempo: str = Field(
        "auto",
        description="quarter notes a minute (120) or ABC's beat=rate (3/8=112); auto: the "
        "tune's Q: line, else its type's pace (a reel 1/2=100, a jig 3/8=112, ...)",
    )

    @field_validator("instrument")
    @classmethod
    def _instrument(cls, value: str) -> str:
        from musegen_audio.sound import program

        try:
            program(value)
        except MusegenError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("tempo")
    @classmethod
    def _tempo(cls, value: str) -> str:
        from musegen_audio.sound import quarters_per_minute

        try:
            if value != "auto":
                quarters_per_minute(value)
        except MusegenError as exc:
            raise ValueError(str(exc)) from None
        return value


class MidiConfig(SoundConfig):
    pass


class WavConfig(SoundConfig):
    soundfont: str | None = Field(None, description="a .sf2/.sf3 file; default: TimGM6mb.sf2 shipped with pretty_midi")
    sample_rate: int = Field(44100, ge=8000, le=192000)
    stereo: bool = True
    compressed: Literal["ogg", "flac", "none"] = Field(
        "ogg", description="also write each tune compressed, for the listening page (a WAV runs about 10 MB a minute)"
    )
    compressed_stereo: bool = Field(
        False,
        description="the compressed copy in stereo too; mono, the default, "
        "encodes in half the time, and one instrument loses only the reverb's spread",
    )
    keep_wav: bool = Field(True, description="false: only the compressed file (gen serve's compositions)")
    jobs: int = Field(0, ge=0, description="synthesis processes at once (0: one per CPU core)")
    timeout: float = Field(300, gt=0, description="seconds one tune may take before its synthesis is stopped")
