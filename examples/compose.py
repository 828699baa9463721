"""The `gen run` pipeline in a few lines of Python.

python examples/compose.py            # a quick demo (200 steps)
python examples/compose.py 1200       # the default preset's full training
"""

import sys

import musegen

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 200
config = musegen.resolve(
    "default", flags={"corpus": "oneills", "encoder": "abc-char", "model": "lstm"}, sets={"train.steps": steps}
)
run = musegen.train(config, "runs/compose-demo", force=True)
print("held-out loss:", run.manifest()["result"]["best_valid_loss"])

tunes = musegen.generate(run.path, {"tunes": 4, "temperature": 0.6, "prime": "X:1\nT:Compose Demo\nM:6/8\n"})
results = musegen.render(tunes, run.path / "samples", ["abc", "midi", "wav"])
print({name: len(r.files) for name, r in results.items()}, "files in", run.path / "samples")
print(musegen.evaluate(tunes, ["validity"]))
