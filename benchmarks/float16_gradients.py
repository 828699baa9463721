"""How the gradients an LSTM receives fare in float16: what a float16 cuDNN LSTM would be given.

    python benchmarks/float16_gradients.py RUN_DIR [RUN_DIR ...] [--init] [--tag best|last]

For each trained run (and with ``--init`` for its model freshly initialized), one training batch of
the run's own training tunes (its batch size and sequence length) goes forward and backward in
float32 on the torch backend; printed: the loss, the largest gradient reaching the LSTM's outputs
(``dy``), its median, the share below float16's normal range (6.1e-5) and the share that rounds to
zero (below 2^-25), the largest gradient of each LSTM weight, and how far the whole ``dy`` moves
(relative, in norm) rounded to float16 as it is, scaled by 2^k first
(``musegen_lstm.fast.layer.gradient_scale``, as the layer does), and rounded to bfloat16.
"""

from __future__ import annotations

import argparse
import os


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="run directories written by gen train")
    ap.add_argument("--init", action="store_true", help="also the first run's model freshly initialized")
    ap.add_argument("--tag", default="best", choices=["best", "last"])
    args = ap.parse_args()
    os.environ["KERAS_BACKEND"] = "torch"
    import torch
    from gradient_runs import cases, windows

    from musegen_lstm.fast.layer import gradient_scale
    from musegen_lstm.fast.net import build

    header = (
        f"{'run':40s} {'loss':>6s} {'max|dy|':>8s} {'median':>8s} {'<normal':>7s} {'->0':>6s}  "
        "float16 / scaled / bfloat16  largest weight gradients"
    )
    for n, (name, init, cfg, enc, model) in enumerate(cases(args, "torch")):
        net = build(model.config, enc.vocab_size) if init else model.net
        batch = windows(cfg, enc, cfg.train.batch_size, cfg.train.seq_len)
        x, y = torch.tensor(batch[:, :-1]), torch.tensor(batch[:, 1:])
        emb, lstm, dense = net.get_layer("embedding"), net.get_layer("lstm_0"), net.get_layer("logits")
        h = lstm(emb(x)).float()
        h.retain_grad()
        loss = torch.nn.functional.cross_entropy(dense(h).reshape(-1, dense.units), y.reshape(-1).long())
        loss.backward()
        dy = h.grad
        scale = float(gradient_scale(dy.abs().max()))
        off = [
            float(((dy * s).to(t).float() / s - dy).norm() / dy.norm())
            for s, t in ((1.0, torch.float16), (scale, torch.float16), (1.0, torch.bfloat16))
        ]
        g = dy.abs().flatten()
        weights = " ".join(f"{v.name} {v.value.grad.abs().max().item():.1e}" for v in lstm.trainable_variables)
        if n == 0:
            print(header)
        print(
            f"{name[-40:]:40s} {loss.item():6.3f} {g.max().item():8.1e} {g.median().item():8.1e} "
            f"{(g < 6.1e-5).float().mean().item():7.1%} {(g < 2.0**-25).float().mean().item():6.1%}  "
            f"{off[0]:.1e} / {off[1]:.1e} / {off[2]:.1e}  {weights}"
        )


if __name__ == "__main__":
    main()
