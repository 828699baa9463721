"""musegen-markov: a character n-gram model with back-off, as a third-party musegen plugin.

Copy this file to start your own model plugin. A model needs four things (see ``musegen.Model``):
``fit`` learns from token ids, ``sample`` continues a prime, ``save`` writes a checkpoint into the
run directory, ``load`` reads it back. It never sees music: the encoder turns tunes into ids and back.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict

from pydantic import BaseModel, ConfigDict, Field

import musegen
from musegen.atomic import write_json

CHECKPOINT = "markov.json"


class MarkovConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order: int = Field(4, ge=1, le=12, description="tokens of context (order 4 is a 5-gram model)")


class MarkovModel:
    can_resume = False  # counting is done in one pass: a second would count every tune twice

    def __init__(self, config: MarkovConfig, vocab_size: int):
        self.config = config
        self.vocab_size = vocab_size
        # counts[k][context tuple] -> Counter of next tokens, for every context length k <= order
        self.counts: list[dict[tuple, Counter]] = [defaultdict(Counter) for _ in range(config.order + 1)]

    def fit(
        self, data: musegen.TrainData, train: musegen.TrainConfig, run: musegen.RunDir, progress
    ) -> musegen.TrainResult:
        t0 = time.perf_counter()
        stream = data.stream("train").tolist()
        progress.start(len(stream))
        for i in range(1, len(stream)):
            for k in range(self.config.order + 1):
                if i - k < 0:
                    break
                self.counts[k][tuple(stream[i - k : i])][stream[i]] += 1
            if i % 10000 == 0:
                progress.update(i)
        progress.update(len(stream))
        if data.valid:
            total, count = self.nll(data.valid, data.end_id)
            valid = total / count
        else:
            valid = None
        self.save(run, "best")
        self.save(run, "last")
        return musegen.TrainResult(
            steps=1, best_valid_loss=valid, last_train_loss=None, seconds=time.perf_counter() - t0
        )

    def distribution(self, context: list[int]):
        """Next-token probabilities, interpolated from the empty context up to the longest one seen
        (Witten-Bell): p_k = (counts_k + u_k * p_{k-1}) / (total_k + u_k), where u_k is how many
        different tokens followed that context, starting from a uniform p."""
        import numpy as np  # imported when used: `gen --help` stays fast

        p = np.full(self.vocab_size, 1.0 / self.vocab_size)
        for k in range(0, min(self.config.order, len(context)) + 1):
            counter = self.counts[k].get(tuple(context[len(context) - k :]))
            if not counter:
                break
            c = np.zeros(self.vocab_size)
            for tok, n in counter.items():
                c[tok] = n
            p = (c + len(counter) * p) / (c.sum() + len(counter))
        return p

    def nll(self, sequences: list[list[int]], end_id: int) -> tuple[float, int]:
        """Total negative log-likelihood (nats) and token count, each sequence scored after ``end_id``."""
        import numpy as np  # imported when used: `gen --help` stays fast

        total, count = 0.0, 0
        for seq in sequences:
            ctx = [end_id]
            for tok in seq:
                total -= float(np.log(self.distribution(ctx[-self.config.order :])[tok]))
                ctx.append(tok)
            count += len(seq)
        return total, count

    def sample(self, prime: list[int], options: musegen.SampleConfig, end_id: int) -> list[list[int]]:
        import numpy as np  # imported when used: `gen --help` stays fast

        rng = np.random.default_rng(options.seed)
        out = []
        for _ in range(options.tunes):
            seq, new = [end_id, *prime], []
            for _ in range(options.max_len):
                p = self.distribution(seq) ** (1.0 / options.temperature)
                tok = int(rng.choice(self.vocab_size, p=p / p.sum()))
                new.append(tok)
                seq.append(tok)
                if tok == end_id:
                    break
            out.append(new)
        return out

    def save(self, run: musegen.RunDir, tag: str):
        table = [{" ".join(map(str, ctx)): dict(c) for ctx, c in level.items()} for level in self.counts]
        return write_json(run.file(f"{tag}-{CHECKPOINT}"), {"order": self.config.order, "counts": table})

    @classmethod
    def load(cls, config: MarkovConfig, vocab_size: int, run: musegen.RunDir, tag: str = "best") -> MarkovModel:
        path = run.file(f"{tag}-{CHECKPOINT}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise musegen.MusegenError(f"cannot read {path}: {exc}") from None
        self = cls(config, vocab_size)
        for k, level in enumerate(data["counts"]):
            for ctx, nexts in level.items():
                key = tuple(int(t) for t in ctx.split()) if ctx else ()
                self.counts[k][key] = Counter({int(t): c for t, c in nexts.items()})
        return self


@musegen.hookimpl
def register_models(register):
    register(
        "markov",
        MarkovModel,
        config=MarkovConfig,
        summary="character n-gram with back-off (example plugin)",
        presets={"tiny": {"order": 2}},
    )  # --preset tiny: a smaller model here too
