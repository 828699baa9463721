"""Evaluators that measure generated tunes."""

import musegen


@musegen.hookimpl
def register_evaluators(register):
    register("validity", "musegen_eval.validity:Validity",
             summary="share of ABC tunes abc2midi converts, converts with no Error line, and with bars matching the meter")
