from pydantic import BaseModel, ConfigDict, Field


class MidiConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WavConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    soundfont: str | None = Field(None, description="a .sf2/.sf3 file; default: TimGM6mb.sf2 shipped with pretty_midi")
    sample_rate: int = Field(44100, ge=8000, le=192000)
    stereo: bool = True
    jobs: int = Field(0, ge=0, description="synthesis processes at once (0: one per CPU core)")
    timeout: float = Field(300, gt=0, description="seconds one tune may take before its synthesis is stopped")
