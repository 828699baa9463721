from pydantic import BaseModel, ConfigDict, Field


class AbcCharConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unknown: str = Field("error", pattern="^(error|skip)$",
                         description="characters outside the vocabulary when encoding: 'error' or 'skip'")


class AbcRendererConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    collection: str = Field("tunes.abc", description="file name of the collection holding every tune")
