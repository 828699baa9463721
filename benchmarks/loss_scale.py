"""What ``mixed_float16``'s loss scale buys: the LSTM's weight gradients against float32's, without and with it.

    python benchmarks/loss_scale.py RUN_DIR [RUN_DIR ...] [--init] [--tag best|last] [--backend jax|torch]
                                    [--batch B] [--seq S]

For each trained run (and with ``--init`` for its model freshly initialized), one batch of the run's
held-out tunes (its batch size and sequence length, or ``--batch`` and ``--seq``) goes forward and backward
three times on the
same weights: the model in float32, and in ``mixed_float16`` with the loss multiplied by 1 and by the
scale training starts with (``musegen_lstm.fast.loss_scale.LossScale``, 2^15), the gradients divided by it
after. Printed for each LSTM weight: how far its gradient is from float32's (relative, in norm),
unscaled / scaled, and the share of its entries that came out zero where float32's are not; last,
one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def gradients(net, x, y, scale: float):
    """Every trainable weight's gradient of the mean cross-entropy times ``scale``, divided by it (float64)."""
    import keras
    import numpy as np

    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if keras.backend.backend() == "jax":
        import jax

        non_trainable = [v.value for v in net.non_trainable_variables]
        grads = jax.grad(lambda t: loss(y, net.stateless_call(t, non_trainable, x)[0]) * scale)(
            [v.value for v in net.trainable_variables]
        )
    else:
        net.zero_grad()
        (loss(y, net(x)) * scale).backward()
        grads = [v.value.grad for v in net.trainable_variables]
    return [np.asarray(keras.ops.convert_to_numpy(g), np.float64) / scale for g in grads]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="run directories written by gen train")
    ap.add_argument("--init", action="store_true", help="also the first run's model freshly initialized")
    ap.add_argument("--tag", default="best", choices=["best", "last"])
    ap.add_argument("--backend", default="jax", choices=["jax", "torch"])
    ap.add_argument("--batch", type=int, help="windows in the batch (default: the run's train.batch_size)")
    ap.add_argument("--seq", type=int, help="characters a window (default: the run's train.seq_len)")
    args = ap.parse_args()
    os.environ["KERAS_BACKEND"] = args.backend
    if (args.batch is not None and args.batch < 1) or (args.seq is not None and args.seq < 2):
        print("error: --batch must be 1 or more and --seq 2 or more", file=sys.stderr)
        sys.exit(2)
    import keras
    import numpy as np
    from gradient_runs import cases, windows

    from musegen_lstm.fast.loss_scale import LossScale
    from musegen_lstm.fast.net import build

    top = LossScale(keras.optimizers.Adam()).initial_scale
    results = []
    for name, init, cfg, enc, model in cases(args, args.backend):
        config = model.config.model_copy(update={"precision": "float32"})
        keras.utils.set_random_seed(0)  # --init: the same initialization every time
        exact_net = build(config, enc.vocab_size)
        if not init:
            exact_net.set_weights(model.net.get_weights())
        half_net = build(config.model_copy(update={"precision": "mixed_float16"}), enc.vocab_size)
        half_net.set_weights(exact_net.get_weights())
        batch = windows(cfg, enc, args.batch or cfg.train.batch_size, args.seq or cfg.train.seq_len)
        x, y = batch[:, :-1].astype("int32"), batch[:, 1:].astype("int32")
        exact = gradients(exact_net, x, y, 1.0)
        paths = [v.path for v in exact_net.trainable_variables]
        row = {"run": name, "batch": list(x.shape), "weights": {}}
        for label, scale in (("unscaled", 1.0), ("scaled", top)):
            for path, g, e in zip(paths, gradients(half_net, x, y, scale), exact):
                if "lstm" in path:
                    entry = row["weights"].setdefault(path.split("/")[-1], {})
                    entry[label] = float(np.linalg.norm(g - e) / np.linalg.norm(e))
                    entry[f"{label}_zeroed"] = float(np.mean((g == 0) & (e != 0)))
        results.append(row)
        print(
            f"{name[-40:]:40s} batch {x.shape[0]} x {x.shape[1]}, {args.backend}: off float32, "
            f"no loss scale / 2^{np.log2(top):.0f}"
        )
        for weight, e in row["weights"].items():
            print(
                f"  {weight:18s} {e['unscaled']:.2e} / {e['scaled']:.2e}   zeroed {e['unscaled_zeroed']:.2%} / "
                f"{e['scaled_zeroed']:.2%}"
            )
    print(json.dumps({"backend": args.backend, "loss_scale": top, "runs": results}))


if __name__ == "__main__":
    main()
