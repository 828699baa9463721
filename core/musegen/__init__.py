"""musegen: a plugin-based generative music framework.

Public API for plugin authors and scripts::

    import musegen
    cfg = musegen.resolve("default", sets={"train.steps": 200})
    run = musegen.train(cfg, "runs/demo")
    pieces = musegen.generate(run.path, {"tunes": 5, "temperature": 0.8})
    musegen.render(pieces, run.path / "samples", ["abc", "midi", "wav"])
"""

from musegen import interrupts
from musegen.config import RunConfig, SampleConfig, TrainConfig, resolve
from musegen.errors import MusegenError
from musegen.hookspecs import hookimpl
from musegen.interfaces import (
    Corpus,
    Encoder,
    Evaluator,
    Loaded,
    Model,
    NullProgress,
    Progress,
    Rendered,
    Renderer,
    TrainData,
    TrainResult,
)
from musegen.piece import Piece
from musegen.pipeline import evaluate, generate, load_run, render, resume, train
from musegen.plugins import get_registry
from musegen.rundir import RunDir, safe_name

__all__ = [
    "Corpus", "Encoder", "Evaluator", "Loaded", "Model", "MusegenError", "NullProgress", "Piece", "Progress",
    "Rendered", "Renderer", "RunConfig", "RunDir", "SampleConfig", "TrainConfig", "TrainData", "TrainResult",
    "evaluate", "generate", "get_registry", "hookimpl", "interrupts", "load_run", "render", "resolve", "resume", "safe_name", "train",
]
