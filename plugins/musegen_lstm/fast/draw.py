"""Which of the fast path's sampling loops runs (``model.sampler``): NumPy, NumPy with int8 weights, or the
compiled JAX loop; both fast models (:mod:`musegen_lstm.fast.lstm`, :mod:`musegen_lstm.fast.trained`) sample here."""

from __future__ import annotations

import functools

from musegen import MusegenError


def draw_tunes(model, prime: list[int], options, end_id: int, checker=None) -> list[list[int]]:
    """How both ``lstm`` models sample (``LSTMModel``, :class:`Trained`): the compiled JAX loop over
    ``model.weights()`` where :func:`sampler_for` says jax and there is no ``checker``, else the NumPy
    sampler over ``model.prepared(int8=...)`` (a checker's refused units are drawn again there)."""
    from musegen.sampling import settings

    drawing = {"prime": prime, "end_id": end_id, **settings(options)}
    sampler = sampler_for(model.config.sampler, checker)
    if checker is None and sampler == "jax":
        from musegen_lstm.fast.jax_sampling import sample as jax_sample

        return jax_sample(model.weights(), **drawing)
    from musegen_lstm.fast.sampling import sample

    return sample(model.prepared(int8=sampler == "numpy-int8"), **drawing, checker=checker)


def prime_per_tune(model) -> bool:
    """Whether ``model.sample`` takes a prime for each tune: the NumPy sampler does, the compiled JAX loop
    does not (the pipeline then samples each different prime's tunes on their own)."""
    return sampler_for(model.config.sampler) != "jax"


def sampler_for(name: str, checker=None) -> str:
    """``model.sampler`` as it runs: ``auto`` is numpy on a CPU and with a ``checker`` (JAX not asked
    then), the compiled jax loop on an accelerator; numpy-int8 only when named."""
    if name != "auto":
        return name
    return "numpy" if checker is not None or not accelerated() else "jax"


@functools.cache
def accelerated() -> bool:
    """Whether JAX sees a GPU (or another accelerator): where ``auto`` samples with the compiled loop.
    Asked once a process (JAX's devices are fixed from its first use)."""
    from musegen import process

    process.setup()  # before JAX is imported: its CPU devices
    try:
        import jax
    except ImportError as exc:
        raise MusegenError(f"model.sampler=auto needs JAX ({exc}); or --set model.sampler=numpy") from None
    return any(d.platform != "cpu" for d in jax.devices())
