"""A checkpoint's weights read without Keras: what sampling from a trained run needs, in a tenth of the time.

A ``.keras`` file is a zip of ``config.json`` (the layers, in order) and ``model.weights.h5``, where
Keras keeps each layer's variables under ``layers/<name>/vars/<i>`` (an LSTM's under
``layers/<name>/cell/vars``), ``<name>`` being its class in snake case, numbered from the second of a
class on (``lstm``, ``lstm_1``, ...), in the config's order. :func:`read` follows that for the model
:func:`musegen_lstm.fast.net.build` makes and checks every shape; a file it does not recognise gives None,
and the caller loads it with Keras instead (which also says what is wrong with a broken one).

Opening a run with Keras costs its import (seconds) and a model build; reading the weights here is a
small fraction of that.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from musegen_lstm.fast.sampling import NumpyLSTM

LAYERS = {"InputLayer": "input_layer", "Embedding": "embedding", "LSTM": "lstm", "Dropout": "dropout", "Dense": "dense"}
"""The classes :func:`musegen_lstm.fast.net.build` uses, and the name Keras gives each one's weights."""


def read(path: Path, vocab_size: int | None = None) -> NumpyLSTM | None:
    """The sampler's weights in the checkpoint at ``path``, or None where it is not a model that
    :func:`musegen_lstm.fast.net.build` made (as far as the file shows) or cannot be read here.
    ``vocab_size``: checked against the output layer (a mismatch gives None too)."""
    try:
        with zipfile.ZipFile(path) as z:
            config = json.loads(z.read("config.json"))
            weights = z.read("model.weights.h5")
        import h5py  # Keras's own dependency

        with h5py.File(io.BytesIO(weights), "r") as h5:
            return _layers(config, h5["layers"], vocab_size)
    except Exception:  # noqa: BLE001 — anything unexpected: Keras reads it, or says what is wrong
        return None


def _layers(config: dict, group, vocab_size: int | None) -> NumpyLSTM | None:
    if config.get("registered_name") not in ("musegen>Net", "Functional"):  # Functional: checkpoints made before Net
        return None
    names, seen = [], {}
    for layer in config["config"]["layers"]:
        cls = LAYERS.get(layer["class_name"])
        if cls is None:
            return None
        count = seen.get(cls, 0)
        seen[cls] = count + 1
        names.append((layer["class_name"], cls if count == 0 else f"{cls}_{count}"))
    kinds = [k for k, _ in names if k not in ("InputLayer", "Dropout")]
    if len(kinds) < 3 or kinds[0] != "Embedding" or kinds[-1] != "Dense" or set(kinds[1:-1]) != {"LSTM"}:
        return None

    def var(name: str, i: int, cell: bool = False) -> np.ndarray:
        node = group[name]["cell"] if cell else group[name]
        return np.asarray(node["vars"][str(i)], np.float32)

    embedding, layers, dense_w, dense_b = None, [], None, None
    for kind, name in names:
        if kind == "Embedding":
            embedding = var(name, 0)
        elif kind == "LSTM":
            layers.append(tuple(var(name, i, cell=True) for i in range(3)))
        elif kind == "Dense":
            dense_w, dense_b = var(name, 0), var(name, 1)
    width = embedding.shape[1]
    for w, r, b in layers:
        units = r.shape[0]
        if w.shape != (width, 4 * units) or r.shape != (units, 4 * units) or b.shape != (4 * units,):
            return None
        width = units
    vocab = embedding.shape[0]
    if dense_w.shape != (width, vocab) or dense_b.shape != (vocab,) or vocab_size not in (None, vocab):
        return None
    return NumpyLSTM(embedding, layers, dense_w, dense_b)
