from musegen import SampleConfig
from musegen.pipeline import sample_primes


class Echo:
    """A model that writes its prime back, then the call's seed: what a tune was sampled from."""

    def __init__(self):
        self.calls = []

    def sample(self, prime, options, end_id):
        self.calls.append((list(prime), options.tunes))
        return [[*prime, options.seed, end_id] for _ in range(options.tunes)]


def test_a_model_without_per_tune_primes_gets_one_call_for_each_different_prime():
    model, primes = Echo(), [[1], [2, 2], [1], [3], [2, 2]]
    out = sample_primes(model, primes, SampleConfig(tunes=5, seed=10), end_id=0)
    assert sorted(model.calls) == [([1], 2), ([2, 2], 2), ([3], 1)]
    assert [ids[:-2] for ids in out] == primes  # each tune in its place
    assert len({ids[-2] for ids in out}) == 3  # each group drawn with a seed of its own
    assert out[0] == out[2] and out[1] == out[4]


def test_one_prime_for_all_is_one_call_and_per_tune_models_get_the_list():
    model = Echo()
    sample_primes(model, [[4, 4]] * 3, SampleConfig(tunes=3, seed=1), end_id=0)
    assert model.calls == [([4, 4], 3)]

    class PerTune(Echo):
        prime_per_tune = True

        def sample(self, prime, options, end_id):
            self.calls.append(prime)
            return [[*p, end_id] for p in prime]

    per = PerTune()
    assert sample_primes(per, [[1], [2]], SampleConfig(tunes=2), end_id=0) == [[1, 0], [2, 0]]
    assert per.calls == [[[1], [2]]]


def test_a_tune_that_is_not_what_was_asked_is_not_valid():
    from musegen import Piece
    from musegen.pipeline import is_valid

    tune = Piece.from_abc("X:1\nT:t\nM:2/4\nL:1/8\nK:F\nFA cA|Bd cA|GB AG|F2 F2|]\n")
    tune.meta.update(complete=True, missed=[])
    assert is_valid(tune)
    tune.meta["missed"] = ["form 4, asked 8+8"]
    assert not is_valid(tune)  # --valid-only draws it again
