"""``gen eval``: held-out likelihood, validity, style statistics and novelty of a trained run.

Every number for generated tunes is printed beside the same number for real held-out tunes, so a
reader can tell good from merely high.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from musegen.config import RunConfig, SampleConfig
from musegen.errors import MusegenError
from musegen.files import user_path
from musegen.piece import Piece
from musegen.pipeline import corpus_split, load_corpus, load_run, sample_run, with_corpus
from musegen.plugins import get_registry

EVALUATORS = ["validity", "stats", "form", "novelty", "midi-stats"]


def held_out(cfg: RunConfig, data: str | None) -> tuple[list[Piece], list[Piece]]:
    """(training tunes, held-out tunes): ``data`` read as given, else the run's own held-out split."""
    train_p, valid_p, _, _ = corpus_split(cfg)
    if data:
        from musegen.pipeline import path_corpus

        as_is = (
            {"require": "off", "dedupe": False} if path_corpus(user_path(data, "--data")) == "path" else {}
        )  # score every tune given
        valid_p = load_corpus(with_corpus(cfg, data, as_is))[0].pieces
    return train_p, valid_p


def evaluate_run(
    run_path: str | os.PathLike,
    data: str | None = None,
    samples: int = 200,
    seed: int | None = None,
    sample: dict | None = None,
    log=print,
    backend: str | None = None,
    model: dict | None = None,
) -> tuple[dict, list[Piece], list[Piece], list[Piece]]:
    """Measure a run; returns (result, the sampled tunes, the training tunes, the held-out tunes).

    ``backend`` loads the model on that Keras backend instead of the one it was trained on (weights are
    portable), so that runs from several backends can be measured in one process.
    """
    loaded = load_run(run_path, backend, model_options=model)
    run, cfg, encoder, model = loaded
    options = SampleConfig(
        **{**cfg.sample.model_dump(), **(sample or {}), "tunes": samples, "seed": cfg.seed if seed is None else seed}
    )  # checked before any work
    train_p, valid_p = held_out(cfg, data)
    formats = {p.format for p in valid_p}
    if data and formats != {encoder.format}:
        raise MusegenError(
            f"--data {data} holds {' and '.join(sorted(formats))} pieces but this run's encoder reads {encoder.format}"
        )
    # 1. held-out likelihood
    sequences, oov = [], 0
    for p in valid_p:
        try:
            sequences.append(encoder.encode(p))
        except MusegenError:
            oov += 1
    result: dict = {
        "run": str(run.path),
        "data": data or "held-out split of the run's corpus",
        "tunes_scored": len(sequences),
        "tunes_skipped_unknown_symbols": oov,
    }
    unit = getattr(encoder, "unit", "token")
    if not hasattr(model, "nll"):
        log(f"held-out NLL not measured: model '{cfg.model}' cannot score tunes (it has no nll method)")
    elif sequences:
        log(f"scoring {len(sequences)} held-out tunes")
        total, count = model.nll(sequences, encoder.end_id)
        result[f"nll_nats_per_{unit}"] = round(total / count, 4)
        result[f"nll_bits_per_{unit}"] = round(total / count / math.log(2), 4)
    # 2. sampled tunes
    log(f"sampling {samples} tunes (temperature {options.temperature}, top-p {options.top_p})")
    pieces = sample_run(loaded, options)
    log("measuring validity, style and novelty")
    evaluators = [
        ev
        for ev in (
            get_registry().get("evaluator", name).build()
            for name in EVALUATORS
            if get_registry().has("evaluator", name)
        )
        if encoder.format in ev.formats
    ]
    generated, reference = {}, {}
    for ev in evaluators:  # one instance for both sets, so the corpus side is computed once
        generated.update(ev.evaluate(pieces, train_p))
        reference.update(ev.evaluate(valid_p, train_p))
    reference.pop("complete_pct", None)
    checked = pieces[0].meta.get("bar_check") if pieces else None
    if checked:  # how much the checker had to do: never hidden (ABC: bars and headers; MIDI: notes)
        unit = checked.get("units_are", "bars").split()[0]
        generated[f"{unit}_redrawn_pct"] = round(100.0 * checked["redraws"] / max(1, checked["units"]), 1)
        generated[f"{unit}_backtracks"] = checked["backtracks"]
        generated[f"{unit}_kept_wrong"] = checked["kept_wrong"]
        if "ended_at_length" in checked:  # ended by the checker at the corpus's length, not by the model
            generated["ended_at_length_pct"] = round(100.0 * checked["ended_at_length"] / max(1, len(pieces)), 1)
    asked = [p for p in pieces if "asked" in p.meta]
    if asked:  # tunes asked for by their controls (those left out drawn as the corpus has them)
        generated["asked_match_pct"] = round(100.0 * sum(not p.meta["missed"] for p in asked) / len(asked), 1)
    result.update(samples=samples, sample=options.model_dump(), **generated, reference=reference)
    return result, pieces, train_p, valid_p


def write_report(result: dict, run_dir: Path, pieces_plot: dict | None = None) -> Path:
    """eval.md: each metric for the generated tunes beside the held-out real tunes."""
    rows = [
        (k, v, result["reference"].get(k, ""))
        for k, v in result.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    ]
    lines = [
        f"# Evaluation of {result['run']}",
        "",
        f"Held-out data: {result['data']}",
        "",
        "| metric | generated | held-out real tunes |",
        "|---|---|---|",
    ]
    lines += [f"| {k} | {v} | {r} |" for k, v, r in rows]
    lines += ["", f"Sampling: {result['sample']}", ""]
    if pieces_plot:
        lines += [f"![{name}]({file})" for name, file in pieces_plot.items()]
    from musegen.atomic import write_text

    return write_text(run_dir / "eval.md", "\n".join(lines) + "\n")
