from pydantic import BaseModel, ConfigDict, Field


class PageConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(None, description="the page's heading; default: Tunes in <folder>")
    report: str | None = Field(
        None,
        description="a gen eval result (eval.json): its tables above the tunes, and "
        "tunes marked generated and held-out real side by side",
    )
    figures: list[str] = Field(default_factory=list, description="plots to show with the report, relative to the page")
