"""Training steps that never wait for the device: :func:`steps` gives a callable per backend.

``train_on_batch`` makes each step wait for the one before (it reads the loss back to the host), so
on a GPU the device idles while Python prepares and dispatches the next step. Here a step is only
dispatched: the batch is copied asynchronously, the loss stays on the device until the caller reads
it (one step later, while the next one runs), and the weights stay where they are.

- jax: one ``jax.jit``-compiled step over the model's state (``stateless_call`` and the optimizer's
  ``stateless_apply``); the state goes back into the Keras variables on :meth:`JaxSteps.sync`;
- torch: Keras's eager step (forward, ``backward``, Adam) with the batch copied from pinned memory
  without blocking, and none of the blocking copies of Python numbers Keras's torch code makes;
- tensorflow: ``train_on_batch``.

Under ``mixed_float16`` the model's optimizer is a loss scale (:mod:`musegen_lstm.fast.loss_scale`): each
step multiplies the loss by it before the gradients, as ``train_on_batch`` does; the torch step
also skips an overflowing step and updates the scale on the device, without reading anything back.

Dropout masks depend on (seed, step, layer) alone, like the batches: a resumed run draws the same
masks as one never interrupted (Keras does not save its seed generators' counters).
"""

from __future__ import annotations

import math

import keras
import numpy as np

from musegen_nets import Steps, seed_state


def steps(net: keras.Model, seed: int):
    """A callable ``(x, y, step) -> loss`` (a scalar on the device: ``float()`` it when needed) with
    ``sync()``, which must run before the Keras model is read (evaluation, saving, sampling)."""
    backend = keras.backend.backend()
    if backend == "jax":
        return JaxSteps(net, seed)
    if backend == "torch":
        return TorchSteps(net, seed)
    return KerasSteps(net, seed)


class KerasSteps(Steps):
    """Keras's own ``train_on_batch``, which waits for each step (``musegen_nets.Steps``): TensorFlow's
    steps, and the reference the others are tested against."""


class TorchSteps(KerasSteps):
    """Keras's eager step, without the waits Keras's torch code puts in it on a GPU: there every Python
    number it turns into a GPU tensor is a blocking copy (4 in its Adam, 1 in its loss, one per dropout
    seed: each waits for all the queued work). When the model is compiled as :meth:`LSTMModel._compile`
    compiles it (plain Adam, optional per-weight clipnorm, sparse cross-entropy from logits), the same
    update runs on Keras's own optimizer variables with those numbers kept on the host (Adam wrapped in
    a loss scale too, under ``mixed_float16``)."""

    def __init__(self, net, seed: int):
        super().__init__(net, seed)
        opt = net.optimizer
        self.loss_scale = opt if isinstance(opt, keras.optimizers.LossScaleOptimizer) else None  # mixed_float16
        self.plain = _plain_adam(self._adam_of()) and _plain_loss(net.loss)
        if self.plain and not opt.built:
            opt.build(net.trainable_variables)
        self.iterations = None  # the optimizer's step counter, mirrored on the host
        self.rate = None

    def seed_dropout(self, step: int) -> None:
        for i, gen in self.gens:
            state = gen.state.value
            state[0], state[1] = seed_state(self.seed, i, step)  # written by kernels: no copy from the host

    def __call__(self, x, y, step: int):
        import torch

        net = self.net
        self.seed_dropout(step)
        device = net.trainable_variables[0].value.device
        if device.type == "cuda":  # pinned memory: the copy does not wait for the steps before
            x, y = (
                torch.from_numpy(np.ascontiguousarray(a)).pin_memory().to(device, non_blocking=True) for a in (x, y)
            )
        else:
            x, y = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y))
        net.zero_grad()
        logits = net(x, training=True)
        if self.plain:  # SparseCategoricalCrossentropy(from_logits=True), mean over every token
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1).long())
        else:
            loss = net.loss(y, logits)
        (self.loss_scale.scale_loss(loss) if self.loss_scale else loss).backward()
        variables = net.trainable_variables
        grads = [v.value.grad for v in variables]
        with torch.no_grad():
            if self.plain:
                self._adam(grads, variables)
            else:
                net.optimizer.apply(grads, variables)
        return loss.detach()

    def _adam(self, grads, variables) -> None:
        """Keras's Adam update (keras/src/backend/torch/optimizers/torch_adam.py) and per-weight clipnorm;
        under a loss scale, :meth:`_unscale` first and the update kept only where it says."""
        import torch

        opt = self._adam_of()
        if self.iterations is None:
            self.iterations = int(keras.ops.convert_to_numpy(opt.iterations))  # one wait, at the first step
        keep = None
        if self.loss_scale:
            keep, grads = self._unscale(grads)
        if opt.clipnorm:  # each gradient scaled by clipnorm / max(its norm, clipnorm)
            norms = torch._foreach_norm(grads)
            grads = torch._foreach_mul(grads, [opt.clipnorm / torch.clamp(n, min=opt.clipnorm) for n in norms])
        t = self.iterations + 1
        alpha = self._learning_rate(self.iterations) * math.sqrt(1 - opt.beta_2**t) / (1 - opt.beta_1**t)
        m = [opt._momentums[opt._get_variable_index(v)].value for v in variables]
        v2 = [opt._velocities[opt._get_variable_index(v)].value for v in variables]
        if keep is None:
            torch._foreach_mul_(m, opt.beta_1)
            torch._foreach_add_(m, grads, alpha=1 - opt.beta_1)
            torch._foreach_mul_(v2, opt.beta_2)
            torch._foreach_add_(v2, torch._foreach_mul(grads, grads), alpha=1 - opt.beta_2)
        else:  # the same, as m += (1 - beta_1) * keep * (g - m): nothing moves where keep is 0
            torch._foreach_add_(m, torch._foreach_mul(torch._foreach_sub(grads, m), (1 - opt.beta_1) * keep))
            torch._foreach_add_(
                v2,
                torch._foreach_mul(torch._foreach_sub(torch._foreach_mul(grads, grads), v2), (1 - opt.beta_2) * keep),
            )
            alpha = alpha * keep
        torch._foreach_add_(
            [v.value for v in variables],
            torch._foreach_div(torch._foreach_mul(m, alpha), torch._foreach_add(torch._foreach_sqrt(v2), opt.epsilon)),
            alpha=-1,
        )
        opt.iterations.value.add_(1)  # a skipped step counts too (musegen_lstm.fast.loss_scale.LossScale)
        self.iterations = t

    def _adam_of(self):
        """The Adam that updates the weights: the model's optimizer, or the one its loss scale wraps."""
        return self.loss_scale.inner_optimizer if self.loss_scale else self.net.optimizer

    def _unscale(self, grads):
        """The loss scale's part of a step, on the device (nothing waits): ``(keep, grads)``, ``keep`` 1.0
        where every gradient is finite (``grads`` then divided by the scale) and 0.0 where one is not
        (``grads`` then zeros); the scale and its counter updated as ``LossScaleOptimizer`` updates them."""
        import torch

        ls = self.loss_scale
        scale, counter = ls.dynamic_scale.value, ls.step_counter.value
        finite = torch.isfinite(torch.stack(torch._foreach_norm(grads))).all()
        grads = [torch.where(finite, g / scale, 0.0) for g in grads]
        counter.add_(1).mul_(finite)  # clean steps in a row
        grow = counter == ls.dynamic_growth_steps
        scale.mul_(torch.where(finite, 1.0 + grow.float(), 0.5))  # x2 after enough clean steps, x0.5 on overflow
        counter.masked_fill_(grow, 0)
        return finite.float(), grads

    def _learning_rate(self, iterations: int) -> float:
        opt = self._adam_of()
        rate = opt._learning_rate
        if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
            with keras.device("cpu"):  # the schedule's arithmetic on the host: nothing to wait for
                return float(keras.ops.convert_to_numpy(rate(iterations)))
        if self.rate is None:
            self.rate = float(keras.ops.convert_to_numpy(opt.learning_rate))  # one wait
        return self.rate


def _plain_adam(opt) -> bool:
    return (
        type(opt) is _keras_adam()
        and not opt.amsgrad
        and opt.weight_decay is None
        and not opt.global_clipnorm
        and not opt.clipvalue
        and not opt.use_ema
        and not opt.gradient_accumulation_steps
        and opt.loss_scale_factor is None
    )


def _keras_adam():
    # not exported by Keras: the class keras.optimizers.Adam builds on torch, to recognise it
    from keras.src.backend.torch.optimizers.torch_adam import Adam

    return Adam


def _plain_loss(loss) -> bool:
    return isinstance(loss, keras.losses.SparseCategoricalCrossentropy) and loss.get_config() | {"name": None} == {
        "name": None,
        "reduction": "sum_over_batch_size",
        "from_logits": True,
        "ignore_class": None,
    }


class JaxSteps(KerasSteps):
    def __init__(self, net, seed: int):
        import jax
        import jax.numpy as jnp

        super().__init__(net, seed)
        if not net.optimizer.built:
            net.optimizer.build(net.trainable_variables)
        self.state = None
        positions = {id(v): k for k, v in enumerate(net.non_trainable_variables)}
        seeds = [
            (positions[id(gen.state)], jnp.asarray(seed_state(seed, i, 0), dtype=gen.state.dtype))
            for i, gen in self.gens
        ]

        opt = net.optimizer

        def loss_and_state(trainable, non_trainable, optimizer, x, y):
            logits, non_trainable = net.stateless_call(trainable, non_trainable, x, training=True)
            loss = net.loss(y, logits)
            scaled = loss
            if isinstance(opt, keras.optimizers.LossScaleOptimizer):  # mixed_float16: its current scale
                with keras.StatelessScope(state_mapping=list(zip(opt.variables, optimizer))):
                    scaled = opt.scale_loss(loss)
            return scaled, (loss, non_trainable)

        grad = jax.value_and_grad(loss_and_state, has_aux=True)

        def step(state, x, y, step):
            trainable, non_trainable, optimizer = state
            non_trainable = list(non_trainable)
            for k, first in seeds:
                non_trainable[k] = first.at[1].set(step.astype(first.dtype))
            (_, (loss, non_trainable)), grads = grad(trainable, non_trainable, optimizer, x, y)
            trainable, optimizer = opt.stateless_apply(optimizer, grads, trainable)  # unscales the gradients
            return (trainable, non_trainable, optimizer), loss

        self._step = jax.jit(step)

    def __call__(self, x, y, step: int):
        if self.state is None:
            self.state = tuple([v.value for v in vs] for vs in self._variables())
        self.state, loss = self._step(self.state, self.place(x), self.place(y), np.int32(step))
        return loss

    def place(self, batch):
        """The batch as the step reads it: under ``keras.distribution`` (data parallelism) split along
        its first axis over the devices, else left to JAX (copied to the default device)."""
        distribution = keras.distribution.distribution()
        if distribution is None:
            return batch
        return keras.distribution.distribute_tensor(batch, distribution.get_data_layout(batch.shape))

    def _variables(self):
        return self.net.trainable_variables, self.net.non_trainable_variables, self.net.optimizer.variables

    def sync(self) -> None:
        if self.state is not None:
            for variables, values in zip(self._variables(), self.state):
                for v, a in zip(variables, values):
                    v.assign(a)
            self.state = None
