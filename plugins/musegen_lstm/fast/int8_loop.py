"""One tune's int8 sampling loop, compiled by TorchScript: ``model.sampler=numpy-int8``'s one-tune path.

With int8 weights a step of one tune is one short product and a dozen small calls for the gates and
the draw. From Python each of those calls costs several times what it costs in a loop of its own: the
product has just pushed the interpreter's and NumPy's state out of the caches. TorchScript runs the
same steps without Python: faster where the kernel does not fit the caches (1024 units), no faster
where it does.

The operations of :meth:`musegen_lstm.fast.sampling.FastStep.step`, in its order, on its weights and its
buffers, and the draws of :func:`musegen_lstm.fast.sampling._sample_one_gumbel` (Gumbel-max, the noise in
blocks of ``GUMBEL_ROWS`` from the same generator). PyTorch's tanh is not NumPy's to the last bit, so
a seed's tune is the same either way until a near tie falls the other way (at 1024 units with sharp
weights, from the 146th character of one 1,500-character tune; never in 1,500 at 64 units). Where TorchScript
cannot compile the loop
(``torch.jit.script`` is deprecated in favour of ``torch.compile``, which needs a C++ compiler at run
time), the Python loop runs instead.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import torch


def _steps(
    packed: torch.classes.quantized.LinearPackedParamsBase,
    table: torch.Tensor,
    ahead: torch.Tensor,
    h: torch.Tensor,
    c: torch.Tensor,
    logits: torch.Tensor,
    bias: torch.Tensor,
    inv_t: float,
    noise: torch.Tensor,
    end_id: int,
) -> list[int]:
    """Tokens drawn as ``argmax(logits + noise[r])`` for each row ``r``, until ``end_id``; after each one
    not ``end_id``, a step of the LSTM on it. The state (``ahead``: the product computed for the next
    step, its last columns the raw logits; ``h``, ``c``; the tempered ``logits``) is read at the start
    and written back at the end."""
    units = h.shape[1]
    u3, u4 = 3 * units, 4 * units
    a, hh, cc, lg = ahead[0], h, c[0], logits
    out: list[int] = []
    for r in range(noise.shape[0]):
        tok = int(torch.argmax(lg + noise[r]))
        out.append(tok)
        if tok == end_id:
            break
        z = torch.tanh(a[:u4] + table[tok])  # gates i, f, o (their inputs halved: sigmoid via tanh), then c
        s = (z[:u3] + 1.0) * 0.5
        cc = cc * s[units : 2 * units] + s[:units] * z[u3:]
        hh = (torch.tanh(cc) * s[2 * units : u3]).unsqueeze(0)
        a = torch.ops.quantized.linear_dynamic(hh, packed, True)[0]
        lg = a[u4:] * inv_t + bias
    ahead[0].copy_(a)
    h.copy_(hh)
    c[0].copy_(cc)
    logits.copy_(lg)
    return out


@functools.cache
def _compiled():
    """:func:`_steps` compiled, or None where TorchScript cannot compile it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.jit.script warns that it is deprecated (PyTorch 2.13); it runs
            return torch.jit.script(_steps)
    except Exception:  # noqa: BLE001 — no TorchScript in this PyTorch: the Python loop
        return None


def one_tune(fast, packed):
    """For a :class:`musegen_lstm.fast.sampling.FastStep` of one tune with one fused LSTM layer whose kernel is
    ``packed`` (weights packed for ``linear_dynamic``): a function ``(noise, end_id) -> tokens`` that
    draws with the rows of ``noise`` (float32 Gumbel noise, ``(rows, vocabulary)``) as
    :func:`_steps` does, advancing ``fast``'s own state; None where the loop cannot be compiled."""
    script = _compiled()
    if script is None:
        return None
    table = torch.from_numpy(fast.weights[0][0])
    ahead, h, c = (torch.from_numpy(a) for a in (fast.ahead, fast.h[0], fast.c[0]))
    logits, bias, inv_t = torch.from_numpy(fast.logits[0]), torch.from_numpy(fast.dense_b), float(fast.inv_t)

    def run(noise: np.ndarray, end_id: int) -> list[int]:
        return script(packed, table, ahead, h, c, logits, bias, inv_t, torch.from_numpy(noise), end_id)

    return run
