import keras
import numpy as np
import pytest

from musegen import NullProgress, RunDir, SampleConfig, TrainConfig, TrainData
from musegen_lstm.config import LSTMConfig
from musegen_lstm.fast.lstm import LSTMModel
from musegen_lstm.fast.sampling import FastStep, NumpyLSTM, draw, filter_logits

pytestmark = pytest.mark.slow  # trains models or runs gen in processes


def test_paper_parameter_count():
    # Embedding 83x256 + LSTM 4*(1024*(256+1024)+1024) + Dense 1024*83+83
    assert LSTMModel(LSTMConfig(), 83).count_params() == 5_353_299


def tiny(vocab=12, layers=1):
    m = LSTMModel(LSTMConfig(embedding_dim=4, units=8, layers=layers), vocab)
    keras.utils.set_random_seed(1)
    m.build()
    return m


@pytest.mark.parametrize("layers", [1, 2])
def test_numpy_sampler_matches_keras_step_by_step(layers):
    m = tiny(layers=layers)
    tokens = np.array([[0, 3, 5, 7, 1, 11, 2]], dtype=np.int32)
    expected = np.asarray(m.net.predict_on_batch(tokens))[0]
    net = m.numpy_lstm()
    state = net.zero_state(1)
    got = []
    for t in tokens[0]:
        logits, state = net.step(np.array([t]), state)
        got.append(logits[0])
    np.testing.assert_allclose(np.stack(got), expected, rtol=1e-4, atol=1e-5)


def random_net(rng, units: list[int], vocab: int = 11, embedding: int = 6) -> NumpyLSTM:
    """Stacked LSTM layers of these sizes with random weights (scaled so that gates are not saturated)."""
    sizes = [embedding, *units]
    layers = [
        (rng.normal(size=(i, 4 * u)) * 0.4, rng.normal(size=(u, 4 * u)) * 0.4, rng.normal(size=4 * u) * 0.4)
        for i, u in zip(sizes, units)
    ]
    return NumpyLSTM(
        rng.normal(size=(vocab, embedding)), layers, rng.normal(size=(units[-1], vocab)), rng.normal(size=vocab)
    )


@pytest.mark.parametrize("units", [[16], [16, 8]])
def test_fast_step_equals_the_reference_recurrence(units):
    rng = np.random.default_rng(0)
    net = random_net(rng, units)
    fast, state = FastStep(net, 3, temperature=0.7), net.zero_state(3)
    for _ in range(25):
        tokens = rng.integers(0, 11, size=3)
        logits, state = net.step(tokens, state)
        np.testing.assert_allclose(fast.step(tokens), logits / 0.7, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("units", [[16], [16, 8]])  # one layer: the output layer fused into the product
def test_a_row_of_fast_state_copied_back_puts_that_sequence_back(units):
    """What the bar checker does to draw a unit again: rows of ``state`` saved after tokens A, restored
    after more tokens; the next steps are those of a sequence that saw only A."""
    net = random_net(np.random.default_rng(4), units)
    fast, fresh = FastStep(net, 2, temperature=0.8), FastStep(net, 2, temperature=0.8)
    for t in ([1, 2], [3, 3], [5, 0]):
        fast.step(np.array(t))
        fresh.step(np.array(t))
    saved = [a[1].copy() for a in fast.state]
    for t in ([7, 7], [9, 4]):
        fast.step(np.array(t))
    for a, row in zip(fast.state, saved):
        a[1] = row
    assert not np.allclose(fast.step(np.array([2, 6]))[0], fresh.step(np.array([2, 6]))[0])  # row 0 went on
    np.testing.assert_allclose(fast.logits[1], fresh.logits[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fast.step(np.array([1, 1]))[1], fresh.step(np.array([1, 1]))[1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("top_k,top_p", [(0, 1.0), (2, 1.0), (0, 0.7), (0, 0.1), (3, 0.95)])
@pytest.mark.parametrize("rows", [1, 4])
def test_draw_follows_the_filtered_distribution(top_k, top_p, rows):
    """Evenly spaced uniforms through the inverse CDF give each token its filtered probability."""
    probs = np.array([0.5, 0.25, 0.15, 0.07, 0.03])
    expected = filter_logits(np.log(probs)[None], 1.0, top_k, top_p)[0]
    grid = (np.arange(2000) + 0.5) / 2000
    drawn = [
        int(draw(np.tile(np.log(probs), (rows, 1)).astype(np.float32), np.full(rows, u), top_k, top_p)[-1])
        for u in grid
    ]
    np.testing.assert_allclose(np.bincount(drawn, minlength=5) / len(grid), expected, atol=2e-3)


@pytest.mark.parametrize("units", [[16], [16, 8]])
def test_one_unfiltered_tune_draws_each_token_with_its_softmax_probability(units):
    """One tune without top-k or top-p (the Gumbel-max path): with an output layer that ignores the
    state, every token is an independent draw from softmax(bias / temperature)."""
    from musegen_lstm.fast.sampling import GUMBEL_ROWS, sample

    rng = np.random.default_rng(5)
    net = random_net(rng, units, vocab=5)
    net.dense_w[:] = 0.0
    net.dense_b[:] = np.log([0.5, 0.25, 0.15, 0.07, 0.03])
    expected = filter_logits(net.dense_b[None], 0.7, 0, 1.0)[0]
    tune = sample(net, [1], 1, 40_000, end_id=-1, temperature=0.7, seed=3)[0]
    assert len(tune) == 40_000 > GUMBEL_ROWS  # the noise is drawn again every GUMBEL_ROWS tokens
    np.testing.assert_allclose(np.bincount(tune, minlength=5) / len(tune), expected, atol=0.01)
    assert tune[:500] == sample(net, [1], 1, 500, end_id=-1, temperature=0.7, seed=3)[0]  # seeded
    assert sample(net, [1], 1, 500, end_id=4, seed=3)[0][-1] == 4  # stops at the end token


def test_gumbel_noise_is_standard_gumbel():
    """The one-tune path's noise: float32 Gumbel(0, 1), CDF exp(-exp(-x)), seeded, each row new."""
    from musegen_lstm.fast.sampling import gumbel_noise

    g = gumbel_noise(np.random.default_rng(2), 4000, 83)
    assert g.shape == (4000, 83) and g.dtype == np.float32 and np.isfinite(g).all()
    for x in (-1.0, 0.0, 0.5, 1.0, 2.0, 4.0):
        assert abs(np.mean(g <= x) - np.exp(-np.exp(-x))) < 3e-3
    assert abs(g.mean() - np.euler_gamma) < 0.01 and abs(g.var() - np.pi**2 / 6) < 0.02
    np.testing.assert_array_equal(g[:10], gumbel_noise(np.random.default_rng(2), 10, 83))
    assert not np.array_equal(g[0], g[1])


@pytest.mark.parametrize("units", [[16], [16, 8]])
def test_one_unfiltered_tune_draws_as_argmax_of_tempered_logits_plus_the_seeds_noise(units):
    """The one-tune loop (with one layer the output layer is fused and the temperature and bias are
    folded into the noise) draws argmax(logits / T + g) step by step, g the seed's Gumbel noise, as a
    plain loop over FastStep.step does: from the first token (for many seeds) and across a block of
    noise."""
    from musegen_lstm.fast.sampling import GUMBEL_ROWS, gumbel_noise, sample

    net = random_net(np.random.default_rng(7), units)

    def plain(seed: int, length: int) -> list[int]:
        rng, fast = np.random.default_rng(seed), FastStep(net, 1, temperature=0.8)
        for token in (-1, 1, 2):  # the start (end_id) and the prime
            logits = fast.step(np.full(1, token))[0].copy()
        want = []
        while len(want) < length:
            for row in gumbel_noise(rng, min(GUMBEL_ROWS, length - len(want)), logits.shape[0]):
                want.append(int(np.argmax(logits + row)))
                logits = fast.step(want[-1])[0].copy()
        return want

    tune = sample(net, [1, 2], 1, GUMBEL_ROWS + 44, end_id=-1, temperature=0.8, seed=11)[0]
    assert tune == plain(11, GUMBEL_ROWS + 44) and len(set(tune)) > 5
    starts = [sample(net, [1, 2], 1, 3, end_id=-1, temperature=0.8, seed=s)[0] for s in range(40)]
    assert starts == [plain(s, 3) for s in range(40)] and len({t[0] for t in starts}) > 3


def test_filters():
    logits = np.log(np.array([[0.5, 0.3, 0.15, 0.05]]))
    np.testing.assert_allclose(filter_logits(logits, 1.0, 0, 1.0), [[0.5, 0.3, 0.15, 0.05]], rtol=1e-6)
    np.testing.assert_allclose(filter_logits(logits, 1.0, 2, 1.0), [[0.625, 0.375, 0, 0]], rtol=1e-6)
    np.testing.assert_allclose(filter_logits(logits, 1.0, 0, 0.7), [[0.625, 0.375, 0, 0]], rtol=1e-6)
    np.testing.assert_allclose(filter_logits(logits, 1.0, 0, 0.1), [[1, 0, 0, 0]])
    cold = filter_logits(logits, 0.1, 0, 1.0)
    assert cold[0, 0] > 0.99


def pattern_data(vocab=6):
    piece = [1, 2, 3, 4, 5, 0]  # "12345" then end of tune
    return TrainData(train=[piece] * 40, valid=[piece] * 4, end_id=0, vocab_size=vocab)


def test_training_learns_checkpoints_and_sampling_stops_at_end(tmp_path):
    run = RunDir.create(tmp_path)
    m = LSTMModel(LSTMConfig(embedding_dim=8, units=32), 6)
    result = m.fit(
        pattern_data(),
        TrainConfig(steps=150, batch_size=8, seq_len=24, learning_rate=1e-2, eval_every=50),
        run,
        NullProgress(),
    )
    assert result.steps == 150
    assert [h["step"] for h in result.history] == [50, 100, 150]
    assert result.best_valid_loss < 0.2  # the pattern is deterministic: near-zero loss
    assert run.file("model.keras").is_file() and run.file("last.keras").is_file() and run.file("history.csv").is_file()
    for sampler in ("numpy", "numpy-int8", "jax"):
        loaded = LSTMModel.load(LSTMConfig(embedding_dim=8, units=32, sampler=sampler), 6, run, "best")
        out = loaded.sample([], SampleConfig(tunes=3, max_len=50, temperature=0.5, seed=3), end_id=0)
        assert out == [[1, 2, 3, 4, 5, 0]] * 3, sampler
        primed = loaded.sample([1, 2], SampleConfig(tunes=1, max_len=50, temperature=0.5, seed=3), end_id=0)
        assert primed == [[3, 4, 5, 0]], sampler
        capped = loaded.sample([], SampleConfig(tunes=2, max_len=3, seed=3), end_id=0)
        assert all(len(s) == 3 and 0 not in s for s in capped), sampler
        greedy = loaded.sample([1, 2, 3], SampleConfig(tunes=2, max_len=50, top_k=1, seed=5), end_id=0)
        assert greedy == [[4, 5, 0]] * 2, sampler


def test_jax_sampler_draws_from_the_same_distribution():
    from musegen_lstm.fast.jax_sampling import sample as jax_sample
    from musegen_lstm.fast.sampling import sample as np_sample

    net = tiny(vocab=5).numpy_lstm()
    a = [t for s in np_sample(net, [1], 400, 1, end_id=-1, seed=0) for t in s]
    b = [t for s in jax_sample(net, [1], 400, 1, end_id=-1, seed=0) for t in s]
    pa, pb = np.bincount(a, minlength=5) / 400, np.bincount(b, minlength=5) / 400
    assert np.abs(pa - pb).max() < 0.1  # one step from the same state: the same 5-way distribution


@pytest.mark.parametrize("layers", [1, 2])
def test_jax_sampler_tunes_do_not_depend_on_its_unrolling(layers):
    """Several LSTM steps per loop iteration (as on a GPU) draw the same tunes, cut at the same ends."""
    from musegen_lstm.fast.jax_sampling import sample as jax_sample

    net = tiny(vocab=4, layers=layers).numpy_lstm()  # 4 symbols: tunes end (token 0) at many lengths
    runs = [jax_sample(net, [1, 2], 16, 23, end_id=0, temperature=1.5, top_p=0.95, seed=4, unroll=u) for u in (1, 3, 8)]
    assert runs[0] == runs[1] == runs[2]
    lengths = sorted(len(t) for t in runs[0])
    assert lengths[0] < 23 and all(t[-1] == 0 and 0 not in t[:-1] for t in runs[0] if len(t) < 23)


def test_resume_continues_from_last_checkpoint(tmp_path):
    run = RunDir.create(tmp_path)
    cfg = LSTMConfig(embedding_dim=4, units=8)
    LSTMModel(cfg, 6).fit(
        pattern_data(), TrainConfig(steps=6, batch_size=4, seq_len=12, eval_every=3), run, NullProgress()
    )
    again = LSTMModel.load(cfg, 6, run, "last")
    assert int(again.net.optimizer.iterations.numpy()) == 6
    result = again.fit(
        pattern_data(), TrainConfig(steps=9, batch_size=4, seq_len=12, eval_every=3), run, NullProgress()
    )
    assert result.steps == 9
    assert [h["step"] for h in result.history] == [3, 6, 9]


def test_vocab_mismatch_and_missing_checkpoint(tmp_path):
    from musegen import MusegenError

    run = RunDir.create(tmp_path)
    with pytest.raises(MusegenError, match="has no model.keras"):
        LSTMModel.load(LSTMConfig(), 6, run)
    m = tiny(vocab=6)
    m.save(run, "best")
    with pytest.raises(MusegenError, match="predicts 6 tokens but the run's vocabulary has 7"):
        LSTMModel.load(LSTMConfig(embedding_dim=4, units=8), 7, run)
    run.file("model.keras").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(MusegenError, match="model.keras is corrupt"):
        LSTMModel.load(LSTMConfig(embedding_dim=4, units=8), 6, run)


def test_cosine_schedule_decays_to_a_tenth(tmp_path):
    run = RunDir.create(tmp_path)
    m = LSTMModel(LSTMConfig(embedding_dim=4, units=8), 6)
    m.fit(
        pattern_data(),
        TrainConfig(
            steps=12, batch_size=4, seq_len=12, eval_every=6, learning_rate=0.01, schedule="cosine", warmup_steps=2
        ),
        run,
        NullProgress(),
    )
    lr = m.net.optimizer.learning_rate
    assert float(np.asarray(lr)) == pytest.approx(0.001, rel=0.05)


def test_checkpoints_load_in_safe_mode_only(tmp_path):
    """A .keras file carrying code (a Lambda layer) is refused, not run."""
    from musegen import MusegenError

    inputs = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(6, 4)(inputs)
    x = keras.layers.Lambda(lambda t: t * 2)(x)
    keras.Model(inputs, keras.layers.Dense(6)(x)).save(tmp_path / "model.keras")
    with pytest.raises(MusegenError, match="model.keras is corrupt or not a musegen model"):
        LSTMModel.load(LSTMConfig(embedding_dim=4, units=8), 6, RunDir(tmp_path))


class EvenUnits:
    """A checker for tests: token 2 closes a unit, which must hold an even number of 1s."""

    initial = None
    header_temperature = None

    def __init__(self, retries, give_up=1000):
        self.retries, self.give_up, self.stats, self.checked = retries, give_up, {}, 0

    def boundary(self, token):
        return token == 2

    def header_done(self, ids):
        return True

    def check(self, items):
        self.checked += len(items)
        return [(units(ids)[-1].count(1) % 2 == 0, state) for ids, state in items]

    def close(self):
        pass


def units(ids):
    """The units of ``ids`` closed by token 2."""
    out, current = [], []
    for t in ids:
        if t == 2:
            out.append(current)
            current = []
        else:
            current.append(t)
    return out


def toy_net(seed=1):
    rng = np.random.default_rng(seed)
    return NumpyLSTM(
        rng.normal(size=(4, 3)),
        [(rng.normal(size=(3, 32)), rng.normal(size=(8, 32)) * 0.5, rng.normal(size=32))],
        rng.normal(size=(8, 4)) * 0.3,
        np.array([0.0, 1.0, 1.0, -3.0]),
    )  # tokens: 0, 1, 2 closes a unit, 3 ends


@pytest.mark.parametrize("int8", [False, True])
def test_checked_sampling_draws_refused_units_again(int8):
    from musegen_lstm.fast.sampling import Prepared, sample

    if int8:
        pytest.importorskip("torch")
    checker = EvenUnits(retries=3)
    out = sample(Prepared(toy_net(), int8=int8), [], 6, 200, end_id=3, seed=0, checker=checker)
    drawn = [u for seq in out for u in units(seq)]
    assert len(drawn) > 20 and checker.checked > len(drawn)  # some units were drawn again
    assert all(u.count(1) % 2 == 0 for u in drawn)
    assert checker.stats["units"] == len(drawn) and checker.stats["redraws"] > 0 and checker.stats["kept_wrong"] == 0
    strict = EvenUnits(retries=0, give_up=0)  # no second draws: whatever is drawn first is kept
    kept = sample(toy_net(), [], 6, 200, end_id=3, seed=0, checker=strict)
    odd = sum(u.count(1) % 2 for seq in kept for u in units(seq))
    assert odd > 0 and strict.stats["kept_wrong"] == odd and strict.stats["redraws"] == 0


def test_a_unit_that_cannot_come_right_goes_back_one_more_unit():
    """Units must alternate even and odd counts of 1s: a unit that follows a wrong one cannot pass
    alone, so the sampler must draw the unit before it again."""
    from musegen_lstm.fast.sampling import sample

    class Alternating(EvenUnits):
        initial = 1  # the parity the next unit must not have

        def check(self, items):
            out = []
            for ids, last in items:
                parity = units(ids)[-1].count(1) % 2
                out.append((parity != last and (len(units(ids)) > 1 or parity == 0), parity))
            return out

    checker = Alternating(retries=2)
    out = sample(toy_net(3), [], 4, 300, end_id=3, seed=1, checker=checker)
    for seq in out:
        parities = [u.count(1) % 2 for u in units(seq)]
        assert parities == [i % 2 for i in range(len(parities))]
    assert checker.stats["backtracks"] > 0 and checker.stats["kept_wrong"] == 0


def test_header_is_drawn_at_its_own_temperature():
    from musegen_lstm.fast.sampling import sample

    class FirstTokenIsHeader(EvenUnits):
        header_temperature = 50.0  # nearly uniform

        def boundary(self, token):
            return False

        def header_done(self, ids):
            return len(ids) >= 1

        def check(self, items):  # the end of the header is checked too: any header will do
            return [(True, state) for _, state in items]

    rng = np.random.default_rng(2)
    net = NumpyLSTM(
        rng.normal(size=(4, 3)),
        [(rng.normal(size=(3, 8)) * 0.1, rng.normal(size=(2, 8)) * 0.1, np.zeros(8))],
        np.zeros((2, 4)),
        np.array([0.0, 4.0, 0.0, -9.0]),
    )
    out = sample(net, [], 300, 5, end_id=3, temperature=0.1, seed=0, checker=FirstTokenIsHeader(0))
    firsts = np.bincount([s[0] for s in out], minlength=4)
    assert firsts[0] > 50 and firsts[2] > 50  # the header: drawn almost uniformly
    assert all(t == 1 for s in out for t in s[1:])  # the body: at temperature 0.1, always the likeliest


@pytest.mark.parametrize("checked", [False, True])
@pytest.mark.parametrize("layers", [1, 2])
def test_a_batch_sheds_its_ended_tunes_and_the_others_draw_on_as_before(monkeypatch, checked, layers):
    """Ended tunes leave the batch (``FastStep.rows``): the tunes left draw the same tokens as in a
    batch that keeps stepping every row to the end."""
    from musegen_lstm.fast import sampling

    net = toy_net(5)
    net.dense_b = np.array([0.0, 1.0, 1.0, -2.0], np.float32)  # the end likelier: tunes of 1 to 120 tokens
    if layers == 2:
        rng = np.random.default_rng(6)
        net.layers.append(
            tuple(
                np.asarray(a, np.float32)
                for a in (rng.normal(size=(8, 32)), rng.normal(size=(8, 32)) * 0.5, rng.normal(size=32))
            )
        )
    kept_rows = []
    real_rows = sampling.FastStep.rows
    monkeypatch.setattr(
        sampling.FastStep, "rows", lambda self, keep: kept_rows.append(len(keep)) or real_rows(self, keep)
    )

    def tunes():
        return sampling.sample(net, [1], 16, 120, end_id=3, seed=4, checker=EvenUnits(retries=2) if checked else None)

    shed = tunes()
    assert len(kept_rows) >= 2 and kept_rows == sorted(kept_rows, reverse=True) and kept_rows[-1] < 8
    lengths = sorted(len(t) for t in shed)
    assert lengths[0] < lengths[-1] // 2  # tunes of many lengths: some left early
    import musegen.sampling

    monkeypatch.setattr(musegen.sampling, "_shed", lambda done: False)  # the loops are the core's
    kept_rows.clear()
    assert tunes() == shed and not kept_rows


@pytest.mark.parametrize("units", [[16], [16, 8]])
def test_each_row_fed_its_own_prime_is_where_that_prime_alone_leaves_it(units):
    """Tunes asked for different things start from different primes in one batch (feed_primes); each row
    must then step on as a batch of that one prime would."""
    from musegen_lstm.fast.sampling import feed_primes

    net = random_net(np.random.default_rng(5), units)
    primes = [[3, 1, 4, 1, 5], [2], [], [9, 2, 6, 5, 3, 5, 8]]
    fast = FastStep(net, len(primes), temperature=0.9)
    logits = feed_primes(fast, primes, end_id=0).copy()
    follow = np.array([7, 7, 7, 7])
    after = fast.step(follow).copy()
    for r, prime in enumerate(primes):
        alone = FastStep(net, 1, temperature=0.9)
        for tok in [0, *prime]:
            alone_logits = alone.step(np.array([tok]))
        np.testing.assert_allclose(logits[r], alone_logits[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(after[r], alone.step(np.array([7]))[0], rtol=1e-5, atol=1e-6)


def test_a_checker_sees_each_tune_after_its_own_prime():
    from musegen_lstm.fast.sampling import sample

    class Seen:
        retries, give_up, initial, header_temperature, stats = 2, 10, 0, None, {}
        starts: set = set()

        def boundary(self, token):
            return token in (0, 5)

        def header_done(self, ids):
            return True

        def check(self, items):
            self.starts.update(tuple(ids[:3]) for ids, _ in items)
            return [(True, 0)] * len(items)

    net = random_net(np.random.default_rng(6), [16])
    primes = [[1, 2, 9], [3, 3, 3], [1, 2, 9]]
    out = sample(net, primes, 3, 60, end_id=0, seed=4, checker=Seen())
    assert len(out) == 3 and Seen.starts == {(1, 2, 9), (3, 3, 3)}
