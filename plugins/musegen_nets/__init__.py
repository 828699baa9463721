"""musegen_nets: a musegen model made from a Keras network. Subclass :class:`KerasModel`, give ``network()``.

The subclass supplies the network (token ids -> logits); musegen's training loop
(:mod:`musegen.training`) and sampler (:mod:`musegen.sampling`) do the rest. Keras is imported when
a model is built or loaded, never when this module is: a plugin that subclasses it keeps
``gen --help`` fast, and the pipeline chooses the backend first.
"""

from __future__ import annotations

import random
from pathlib import Path

from musegen import MusegenError, interrupts
from musegen.atomic import atomic_path

# NumPy, musegen.training and musegen.sampling are imported where used: a plugin that subclasses
# KerasModel is imported by every gen command, `gen --help` included.


class KerasModel:
    """A model of token ids from a Keras network, honouring musegen's model contract (``musegen.Model``).

    What a subclass gets: training through :func:`musegen.training.fit` (batches by seed and step,
    held-out evaluation, best and last checkpoints, patience, Ctrl-C/SIGTERM, history.csv, exact resume,
    all of ``TrainConfig``), Adam with the run's learning rate, schedule and clipping, seeding, ``nll``
    for ``gen eval``, and sampling with temperature, top-k, top-p, seeds and the encoder's checker.

    What it must give: ``network()``, a ``keras.Model`` from int32 token ids ``(batch, time)`` to logits
    ``(batch, time, vocab_size)``, made of Keras's own layers or ones registered for serialization (the
    checkpoints are ``.keras`` files). The sampler runs its layers one token at a time: recurrent layers
    (``keras.layers.RNN`` and its subclasses GRU, LSTM, SimpleRNN) through their cells, carrying their
    state, and every other layer on that token alone. A network that is not such a chain (attention, a
    residual path) overrides :meth:`stepper`.
    """

    can_resume = True  # the last checkpoint holds the optimizer's state and step; batches follow the step
    can_pretrain = True  # musegen.training.fit runs train.pretrain_steps on data.pretrain first
    prime_per_tune = True  # sample() takes one prime per tune
    checkpoints = {"best": "best.keras", "last": "last.keras"}

    def __init__(self, config, vocab_size: int):
        self.config, self.vocab_size = config, vocab_size
        self.net = None  # the keras.Model, once built or loaded
        self.steps = None  # the training step, made by fit()

    def network(self):
        """The Keras network: int32 token ids ``(batch, time)`` -> logits ``(batch, time, vocab_size)``."""
        raise NotImplementedError(f"{type(self).__name__} must define network()")

    # -- training: what musegen.training.fit calls (musegen.training.Network) ---------------------
    def fit(self, data, train, run, progress):
        """Train to ``train.total_steps``, from step 0 or from the step of the checkpoint it was loaded from."""
        seed(train.seed)
        with interrupts.deferred():  # starting a backend (JAX) is native code that a signal must not cut short
            if self.net is None:
                self.net = self.network()
            if not self.net.compiled or self.net.optimizer is None:
                compile(self.net, train)
            self.steps = Steps(self.net, train.seed)
        from musegen import training

        opt = self.net.optimizer
        start = int(opt.iterations.numpy()) if opt.built else 0
        return training.fit(self, data, train, run, progress, start=start)

    def train_step(self, x, y, step: int):
        return self.steps(x, y, step)

    def logits(self, x):
        import numpy as np

        return np.asarray(self.net.predict_on_batch(x))

    def sync(self) -> None:
        self.steps.sync()

    # -- checkpoints ---------------------------------------------------------------------------
    def save(self, run, tag: str) -> Path:
        target = run.file(self.checkpoints[tag])
        with atomic_path(target) as tmp:
            self.net.save(tmp)
        return target

    @classmethod
    def checkpoint(cls, run, tag: str) -> Path:
        """The file of checkpoint ``tag`` of ``run``; one line of error where training never wrote it."""
        path = run.file(cls.checkpoints[tag])
        if not path.is_file():
            raise MusegenError(f"{run.path} has no {path.name}: training stopped before its first checkpoint")
        return path

    @classmethod
    def load(cls, config, vocab_size: int, run, tag: str = "best"):
        """Checkpoint ``tag`` of ``run``; ``last`` with its optimizer state, to train on."""
        import keras

        path = cls.checkpoint(run, tag)
        self = cls(config, vocab_size)
        try:
            self.net = keras.saving.load_model(path, compile=(tag == "last"), safe_mode=True)
        except Exception as exc:
            raise MusegenError(f"{path} is corrupt or not a musegen model (Keras: {type(exc).__name__})") from None
        if self.net.output_shape[-1] != vocab_size:
            raise MusegenError(
                f"{path} predicts {self.net.output_shape[-1]} tokens but the run's vocabulary has {vocab_size}"
            )
        return self

    # -- scoring and sampling ------------------------------------------------------------------
    def nll(self, sequences: list[list[int]], end_id: int) -> tuple[float, int]:
        """Total nats and token count of ``sequences``, each from a fresh state after ``end_id``: for ``gen eval``."""
        from musegen import training

        return training.sequence_nll(self.logits, sequences, end_id)

    def sample(self, prime, options, end_id: int, checker=None) -> list[list[int]]:
        """``options.tunes`` continuations of ``prime`` (or one prime per tune); see :func:`musegen.sampling.sample`."""
        from musegen import sampling

        stepper = self.stepper(options.tunes, options.temperature)
        return sampling.sample(stepper, prime, end_id=end_id, checker=checker, **sampling.settings(options))

    def stepper(self, n: int, temperature: float) -> LayerStepper:
        """The network advanced a token at a time for ``n`` sequences (see the class docstring)."""
        return LayerStepper(self.net, n, temperature)


class LayerStepper:
    """A chain of Keras layers run one token at a time, each recurrent layer through its cell with its
    state kept as NumPy rows (``musegen.sampling.Stepper``)."""

    def __init__(self, net, n: int, temperature: float, state=None):
        import keras
        import numpy as np

        self.net, self.n, self.temperature = net, n, temperature
        self.to_numpy = keras.ops.convert_to_numpy  # torch tensors that need grad, JAX and TF arrays alike
        self.layers = [
            (layer, isinstance(layer, keras.layers.RNN))
            for layer in net.layers
            if not isinstance(layer, keras.layers.InputLayer)
        ]  # a functional model lists its input
        if state is None:
            state = [
                np.array(s, np.float32)
                for layer, rnn in self.layers
                if rnn
                for s in _as_list(layer.cell.get_initial_state(batch_size=n))
            ]
        self.state = state
        self.logits = np.zeros((n, net.output_shape[-1]), np.float32)

    def step(self, tokens):
        import numpy as np

        x, i = np.atleast_1d(np.asarray(tokens, np.int32)), 0
        for layer, rnn in self.layers:
            if rnn:
                k = len(_as_list(layer.cell.state_size))
                x, new = layer.cell(x, self.state[i : i + k], training=False)
                for mine, value in zip(self.state[i : i + k], _as_list(new)):
                    mine[...] = self.to_numpy(value)
                i += k
            else:
                x = layer(x, training=False)
        self.logits = self.to_numpy(x).astype(np.float32) / np.float32(self.temperature)
        return self.logits

    def rows(self, keep) -> LayerStepper:
        new = LayerStepper(self.net, len(keep), self.temperature, [s[keep] for s in self.state])
        new.logits = self.logits[keep]
        return new


def _as_list(x) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


class Steps:
    """Keras's ``train_on_batch``, with each dropout layer's seed set from (seed, step, layer) before the
    step, so that a resumed run draws the masks an uninterrupted one would (Keras does not save its
    seed generators' counters). ``sync`` is a no-op: ``train_on_batch`` waits for its step."""

    def __init__(self, net, seed: int):
        self.net, self.seed = net, seed
        self.gens = [
            (i, g) for i, layer in enumerate(net.layers) if (g := getattr(layer, "seed_generator", None)) is not None
        ]

    def seed_dropout(self, step: int) -> None:
        import numpy as np

        for i, gen in self.gens:
            gen.state.assign(np.asarray(seed_state(self.seed, i, step), dtype=gen.state.dtype))

    def __call__(self, x, y, step: int):
        import numpy as np

        self.seed_dropout(step)
        return float(np.asarray(self.net.train_on_batch(x, y)).reshape(-1)[0])

    def sync(self) -> None:
        pass


def seed_state(seed: int, layer_index: int, step: int) -> list[int]:
    """The state of a dropout layer's seed generator at ``step``."""
    return [(seed * 7919 + layer_index) % 2**31, step]


def optimizer(train):
    """Adam at ``train.learning_rate`` (constant, or cosine decay to 10% after a linear warm-up), with
    ``train.clipnorm``."""
    import keras

    lr = train.learning_rate
    if train.schedule == "cosine":
        warm = min(train.warmup_steps, max(0, train.total_steps - 1))
        lr = keras.optimizers.schedules.CosineDecay(
            0.0 if warm else lr,
            max(1, train.total_steps - warm),
            alpha=0.1,
            warmup_target=lr if warm else None,
            warmup_steps=warm,
        )
    return keras.optimizers.Adam(learning_rate=lr, clipnorm=train.clipnorm)


def compile(net, train, opt=None) -> None:
    """Compile ``net`` for ``train_on_batch``: ``opt`` (:func:`optimizer` by default), cross-entropy on logits."""
    import keras

    net.compile(optimizer=opt or optimizer(train), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))


def seed(value: int) -> None:
    """Seed Python, NumPy and Keras (weights' initial values), as ``keras.utils.set_random_seed`` does but
    without importing TensorFlow where it is not the backend (seconds, and log lines on stderr)."""
    import keras
    import numpy as np

    if keras.backend.backend() == "tensorflow":
        keras.utils.set_random_seed(value)
        return
    # No public Keras API seeds its global generator without also seeding TensorFlow when it is installed.
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator

    global_state.set_global_attribute("global_random_seed", value)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
    random.seed(value)
    np.random.seed(value)
    if keras.backend.backend() == "torch":
        import torch

        torch.manual_seed(value)
