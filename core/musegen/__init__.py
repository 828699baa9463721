"""musegen: a plugin-based generative music framework.

Public API for plugin authors and scripts::

    import musegen
    cfg = musegen.resolve("default", sets={"train.steps": 200})
    run = musegen.train(cfg, "runs/demo")
    pieces = musegen.generate(run.path, {"tunes": 5, "temperature": 0.8})
    musegen.render(pieces, run.path / "samples", ["abc", "midi", "wav"])
"""

import importlib

from musegen.errors import MusegenError as MusegenError
from musegen.hookspecs import hookimpl as hookimpl

# Everything else is imported on first use (PEP 562): a plugin module or a worker process that only
# needs ``hookimpl`` does not pay for pydantic and the pipeline.
_LAZY = {
    "interrupts": "musegen.interrupts",
    **dict.fromkeys(["RunConfig", "SampleConfig", "TrainConfig", "resolve"], "musegen.config"),
    **dict.fromkeys(
        [
            "Checker",
            "Corpus",
            "Encoder",
            "Evaluator",
            "Limits",
            "Loaded",
            "Model",
            "NullProgress",
            "Progress",
            "Rendered",
            "Renderer",
            "TrainData",
            "TrainResult",
        ],
        "musegen.interfaces",
    ),
    "Piece": "musegen.piece",
    **dict.fromkeys(["evaluate", "generate", "load_run", "render", "resume", "train"], "musegen.pipeline"),
    "get_registry": "musegen.plugins",
    **dict.fromkeys(["RunDir", "safe_name"], "musegen.rundir"),
}

__all__ = sorted(["MusegenError", "hookimpl", *_LAZY])


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'musegen' has no attribute {name!r}")
    module = importlib.import_module(_LAZY[name])
    value = module if name == "interrupts" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
