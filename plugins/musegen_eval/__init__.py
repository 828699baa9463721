"""Evaluators that measure generated tunes: validity, style statistics against a corpus, novelty."""

import musegen


@musegen.hookimpl
def register_evaluators(register):
    register(
        "validity",
        "musegen_eval.validity:Validity",
        summary="share of ABC tunes abc2midi converts, converts with no Error line, and with bars matching the meter",
    )
    register(
        "stats",
        "musegen_eval.stats:Stats",
        summary="M: and K: total-variation distance; pitch-class, note-length and pitch-range overlap with the corpus",
    )
    register(
        "form",
        "musegen_eval.form:FormEvaluator",
        summary="share of tunes with 2+ parts of 4, 8 or 16 bars, repeats and an end of their own; parts and "
        "bars beside the corpus's",
    )
    register(
        "novelty",
        "musegen_eval.novelty:Novelty",
        summary="share of tunes at least 0.95 similar to a corpus tune; longest passage copied from the corpus",
    )
