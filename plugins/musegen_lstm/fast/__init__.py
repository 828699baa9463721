"""The lstm model's fast path: every optimization, apart from the plain model (:mod:`musegen_lstm.plain`).

Each is tested against the plain path or against Keras's own layers; :mod:`musegen_lstm.choose` decides
which path runs. The Keras model (:mod:`.lstm`) and its network (:mod:`.net`, the embedding folded into the
first LSTM on CPUs), the fused LSTM layer (:mod:`.layer`, with :mod:`.jax_lstm` and :mod:`.tf_lstm`, the CPU
recurrences), training steps that do not wait (:mod:`.steps`), the loss scale of ``mixed_float16``
(:mod:`.loss_scale`); for sampling without Keras, the NumPy sampler (:mod:`.sampling`, with int8 kernels in
:mod:`.int8` and :mod:`.int8_loop`), the compiled JAX sampler (:mod:`.jax_sampling`), the choice among them
(:mod:`.draw`), a run's weights read without Keras (:mod:`.checkpoint`, :mod:`.trained`) and scored
(:mod:`.scoring`).
"""
