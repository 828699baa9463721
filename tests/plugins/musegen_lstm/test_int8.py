"""The NumPy sampler with int8 weights (model.sampler=numpy-int8): quantization, products, sampling."""

import sys

import numpy as np
import pytest

pytest.importorskip("torch")

from test_lstm import random_net  # noqa: E402

from musegen import MusegenError  # noqa: E402
from musegen_lstm.config import LSTMConfig  # noqa: E402
from musegen_lstm.fast import int8  # noqa: E402
from musegen_lstm.fast.int8 import KERNEL_ROWS, ONEDNN_ROWS, ROUTES, Int8Kernel, best_route, onednn_ok  # noqa: E402
from musegen_lstm.fast.sampling import FastStep, NumpyLSTM, Prepared, gumbel_noise  # noqa: E402


def kernel(rng, k=64, n=96):
    w = rng.normal(size=(k, n)).astype(np.float32) * 0.1
    w[:, 5] = 0.0  # an all-zero column
    return w


def test_each_column_keeps_its_largest_weight_and_rounds_the_rest_to_its_step():
    w = kernel(np.random.default_rng(0))
    q = Int8Kernel(w)
    deq = q.dequantized
    step = np.abs(w).max(0) / 127
    assert np.abs(deq - w).max(0)[step > 0].max() <= 0.5 * step[step > 0].max() * 1.0001
    assert (np.abs(deq - w) <= 0.5 * np.where(step > 0, step, 1) * 1.0001).all()
    cols = np.arange(w.shape[1])
    top = np.abs(w).argmax(0)
    np.testing.assert_allclose(deq[top, cols][cols != 5], w[top, cols][cols != 5], rtol=1e-6)
    assert (deq[:, 5] == 0).all()
    assert q.q.dtype.is_floating_point is False and tuple(q.q.shape) == (96, 64)  # int8, (N, K) as the kernel reads


def test_this_machine_runs_the_dynamic_route():
    """On x86 (this project's CI) PyTorch's FBGEMM kernels run: if they stop, sampling falls back to
    the slower weight-only kernel, and this says so."""
    import platform

    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("FBGEMM is x86's")
    assert best_route() == "dynamic"


def test_many_rows_read_the_weights_packed_for_onednn_and_few_fbgemms():
    """The dynamic route packs the weights a second time, for oneDNN, when a product of ONEDNN_ROWS
    rows or more is bound (and only then); both give the same rounding (checked in the test below)."""
    import platform

    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("oneDNN's int8 kernels: checked on x86")
    assert onednn_ok()
    q = Int8Kernel(kernel(np.random.default_rng(4)), "dynamic")
    few = np.ones((ONEDNN_ROWS - 1, 64), np.float32)
    q.product(few, np.empty((len(few), 96), np.float32))()
    assert "_packed_onednn" not in vars(q)
    many = np.ones((ONEDNN_ROWS, 64), np.float32)
    out = np.empty((len(many), 96), np.float32)
    q.product(many, out)()
    assert "_packed_onednn" in vars(q)
    np.testing.assert_allclose(out, many @ q.dequantized, rtol=3e-2, atol=3e-2 * np.abs(out).max())


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("k", [64, 24, 8])  # the weight-only kernel needs multiples of 16: padded
@pytest.mark.parametrize("rows", [1, KERNEL_ROWS, KERNEL_ROWS + 1, ONEDNN_ROWS, 40])
def test_product_writes_x_times_the_int8_weights_into_the_buffer(rows, k, route):
    rng = np.random.default_rng(1)
    q = Int8Kernel(kernel(rng, k=k), route)
    x = np.empty((rows, k), np.float32)
    out = np.full((rows, 96), np.nan, np.float32)
    run = q.product(x, out)
    for _ in range(2):  # the buffer is read when called, not when bound
        x[:] = rng.normal(size=x.shape)
        run()
        expected = x @ q.dequantized
        err = np.linalg.norm(out - expected) / np.linalg.norm(expected)
        if route == "weight-only" and rows > KERNEL_ROWS:  # float32 over the dequantized weights
            np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
        elif route == "weight-only":  # activations in bfloat16: about 3 significant digits
            assert 0 < err < 1e-2
        else:  # activations as 7-bit integers, one scale for the call
            assert 0 < err < 3e-2


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("units", [[16], [16, 8]])
def test_int8_steps_follow_the_float32_recurrence_closely(units, route, monkeypatch):
    monkeypatch.setattr(int8, "best_route", lambda: route)
    rng = np.random.default_rng(2)
    net = random_net(rng, units)
    prep = Prepared(net, int8=True)
    assert all(isinstance(kernel, Int8Kernel) and kernel.route == route for _, kernel, _ in prep.weights)
    exact, fast = FastStep(net, 1), FastStep(prep, 1)
    apart = []
    for _ in range(30):
        token = int(rng.integers(0, 11))
        a, b = exact.step(token).copy(), fast.step(token)
        apart.append(np.abs(a - b).max() / np.abs(a).max())
    assert 0 < max(apart) < 0.05  # int8, not silently float32 (the first step, from h = 0, is exact); and close


def test_sampling_with_int8_weights_is_seeded_and_draws_like_float32():
    from musegen_lstm.fast.sampling import sample

    rng = np.random.default_rng(3)
    net = NumpyLSTM(
        rng.normal(size=(5, 4)),
        [(rng.normal(size=(4, 32)) * 0.5, rng.normal(size=(8, 32)) * 0.5, rng.normal(size=32) * 0.5)],
        rng.normal(size=(8, 5)),
        rng.normal(size=5),
    )
    prep = Prepared(net, int8=True)
    one = sample(prep, [1], 1, 3000, end_id=-1, seed=7)[0]
    assert one == sample(prep, [1], 1, 3000, end_id=-1, seed=7)[0]
    many = sample(prep, [1], 64, 50, end_id=-1, seed=7)  # 64 rows: float32 BLAS over the int8 values
    exact = sample(net, [1], 1, 3000, end_id=-1, seed=8)[0]
    pa, pb = np.bincount(one, minlength=5) / 3000, np.bincount(exact, minlength=5) / 3000
    assert np.abs(pa - pb).max() < 0.04  # the same long-run distribution of symbols
    assert len(many) == 64 and all(len(t) == 50 for t in many)


def test_one_int8_tune_runs_compiled_drawing_and_stepping_as_the_python_loop(monkeypatch):
    """One tune through one fused layer on the dynamic route: the compiled loop (int8_loop) draws the
    same tokens from the same noise as the Python loop and leaves the same state, to float32 rounding
    (PyTorch's tanh is not NumPy's); an end token stops it at once."""
    monkeypatch.setattr(int8, "best_route", lambda: "dynamic")
    rng = np.random.default_rng(5)
    prep = Prepared(random_net(rng, [24]), int8=True)
    noise = gumbel_noise(rng, 40, 11)

    def primed():
        fast = FastStep(prep, 1, temperature=0.8)
        for token in (0, 3, 4):
            fast.step(token)
        return fast

    ours, theirs = primed(), primed()
    got = ours.compiled_loop()(noise, -1)
    want, logits = [], theirs.logits[0]
    for row in noise:
        want.append(int(np.argmax(logits + row)))
        logits = theirs.step(want[-1])[0]
    assert got == want and len(set(got)) > 3
    for a, b in zip([*ours.state, ours.logits], [*theirs.state, theirs.logits]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    end = got[6]
    assert primed().compiled_loop()(noise, end) == got[: got.index(end) + 1]


def test_only_one_int8_tune_through_one_fused_layer_runs_compiled(monkeypatch):
    monkeypatch.setattr(int8, "best_route", lambda: "dynamic")
    rng = np.random.default_rng(6)
    one, two = random_net(rng, [16]), random_net(rng, [16, 8])
    assert FastStep(Prepared(one, int8=True), 1).compiled_loop() is not None
    assert FastStep(Prepared(one, int8=True), 3).compiled_loop() is None  # several tunes: batched NumPy steps
    assert FastStep(one, 1).compiled_loop() is None  # float32
    assert FastStep(Prepared(two, int8=True), 1).compiled_loop() is None  # two layers: nothing fused
    monkeypatch.setattr(int8, "best_route", lambda: "weight-only")
    assert FastStep(Prepared(one, int8=True), 1).compiled_loop() is None


def test_one_int8_tune_draws_the_same_compiled_or_not(monkeypatch):
    """The same seed gives the same tune whether TorchScript compiles the loop or not (noise drawn in
    the same blocks; over 300 characters, past a block's end), and the tune is as long as asked."""
    from musegen_lstm.fast import int8_loop
    from musegen_lstm.fast.sampling import sample

    monkeypatch.setattr(int8, "best_route", lambda: "dynamic")
    prep = Prepared(random_net(np.random.default_rng(7), [16]), int8=True)
    compiled = sample(prep, [1, 2], 1, 300, end_id=-1, seed=3, temperature=0.9)[0]
    monkeypatch.setattr(int8_loop, "_compiled", lambda: None)  # no TorchScript: the Python loop
    assert FastStep(prep, 1).compiled_loop() is None
    python = sample(prep, [1, 2], 1, 300, end_id=-1, seed=3, temperature=0.9)[0]
    assert compiled == python and len(compiled) == 300


def test_without_pytorch_a_one_line_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch raises ImportError
    with pytest.raises(MusegenError, match="needs PyTorch"):
        int8.Int8Kernel(np.ones((2, 3), np.float32))


def test_the_setting():
    assert LSTMConfig(sampler="numpy-int8").sampler == "numpy-int8"
    with pytest.raises(ValueError):
        LSTMConfig(sampler="int8")
