from pydantic import BaseModel, ConfigDict, Field


class ScoreConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    width: int = Field(
        2100, ge=500, le=10000, description="page width in verovio's units (tenths of a mm at scale 100)"
    )
    phone_width: int = Field(
        1100, ge=0, le=10000, description="page width of a second, narrow SVG for phones (0: none)"
    )
    scale: int = Field(40, ge=10, le=200, description="size of the notation, in percent")
    jobs: int = Field(0, ge=0, description="engraving processes at once (0: one per CPU core)")
    timeout: float = Field(60, gt=0, description="seconds one tune may take before its engraving is stopped")
