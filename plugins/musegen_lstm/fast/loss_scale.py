"""The dynamic loss scale that ``model.precision=mixed_float16`` trains with.

Under ``mixed_float16`` the layers hand each other float16 gradients. Those reaching the LSTM carry
the loss's mean over every character of the batch: in the paper model the largest is 7e-6-1.3e-4 and
most lie below float16's normal range (6.1e-5), where up to 38% round to zero
(``benchmarks/float16_gradients.py``). Multiplying the loss by a large power of two (2^15 at first)
lifts them into range; the optimizer divides the gradients by it again before its update. A step
whose gradients overflow (inf or nan) changes no weight and halves the scale; after
``dynamic_growth_steps`` (2000) clean steps in a row the scale doubles. That is Keras's
``LossScaleOptimizer``, which ``Model.fit`` adds by itself under ``mixed_float16``; musegen's own
training steps (:mod:`musegen_lstm.fast.steps`) scale their loss the same way.

One change from Keras: a skipped step still counts in ``iterations``. musegen reads the step a run
resumes from, and its learning-rate schedule's position, from ``iterations``, and a run's batches
follow its step: with Keras's count a run that had skipped a step would resume one step behind,
on batches it had already seen.
"""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="musegen")
class LossScale(keras.optimizers.LossScaleOptimizer):
    """``keras.optimizers.LossScaleOptimizer`` whose skipped steps count in ``iterations`` (module
    docstring). Same arguments: the optimizer it wraps, ``initial_scale`` (2^15),
    ``dynamic_growth_steps`` (2000)."""

    # Keras has no public hook for a skipped step: these two methods are LossScaleOptimizer's own (Keras 3.15).
    def _stateless_handle_non_finite_grads(self, optimizer_variables, trainable_variables):
        trainable_variables, optimizer_variables = super()._stateless_handle_non_finite_grads(
            optimizer_variables, trainable_variables
        )
        mapping = list(zip(self.variables, optimizer_variables))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            self.inner_optimizer.iterations.assign_add(1)
        return trainable_variables, [scope.get_current_value(v) for v in self.variables]

    def _stateful_handle_non_finite_grads(self):
        super()._stateful_handle_non_finite_grads()
        self.inner_optimizer.iterations.assign_add(1)
