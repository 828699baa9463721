from pydantic import BaseModel, ConfigDict, Field

from musegen.abctext import KEEP_FIELDS


class AbcCorpusConfig(BaseModel):
    """How tunes are read from ABC collections."""

    model_config = ConfigDict(extra="forbid")
    keep_fields: list[str] = Field(
        list(KEEP_FIELDS), description="header fields kept; others (N:, B:, Z:, ...) dropped"
    )
    keep_comments: bool = Field(False, description="keep % comment lines")
    dedupe: bool = Field(True, description="drop tunes whose music repeats an earlier tune")
    max_chars: int = Field(20_000, ge=100, description="skip tunes longer than this")
    require: str = Field(
        "clean",
        pattern="^(off|clean|bars)$",
        description="skip tunes abc2midi rejects: 'clean' (an Error line), 'bars' (also a bar "
        "that does not match the meter), or 'off'",
    )
    limit: int | None = Field(None, ge=1, description="read at most this many tunes")


class PathCorpusConfig(AbcCorpusConfig):
    path: str = Field("", description="an .abc file or a folder of .abc files")
