from pydantic import BaseModel, ConfigDict, Field

CHECKPOINTS = {"best": "model.keras", "last": "last.keras"}
"""A run's checkpoint files, either path's: the best by held-out loss, and the last (with the optimizer's state)."""


class LSTMConfig(BaseModel):
    """Architecture; defaults are the seed paper's Table 1 (Embedding 256 → LSTM 1024 → Dense)."""

    model_config = ConfigDict(extra="forbid")
    embedding_dim: int = Field(256, ge=1)
    units: int = Field(1024, ge=1)
    layers: int = Field(1, ge=1, le=8, description="stacked LSTM layers")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout after each LSTM layer (keeps the cuDNN path)")
    precision: str = Field(
        "float32",
        pattern="^(float32|mixed_bfloat16|mixed_float16)$",
        description="compute precision (weights stay float32): on a GPU either mixed "
        "precision runs the torch backend's cuDNN LSTM in float16, as torch.autocast "
        "does, its gradients scaled (JAX's cuDNN LSTM stays float32; "
        "mixed_float16 trains with a dynamic loss scale); on a CPU with bfloat16 "
        "instructions mixed_bfloat16 runs the LSTM in bfloat16, "
        "elsewhere on CPUs the LSTM computes in float32",
    )
    distribute: str = Field(
        "none",
        pattern="^(none|data-parallel)$",
        description="data-parallel: each batch split over every accelerator (or XLA host "
        "device) through keras.distribution; jax backend, fast path",
    )
    fast: bool = Field(
        True,
        description="the fast path: fused LSTM kernels for training, compiled or NumPy "
        "samplers; false runs the plain Keras model (musegen_lstm.plain), the "
        "reference it is tested against",
        json_schema_extra={"sampling": True},
    )  # a run trained either way opens either way
    sampler: str = Field(
        "auto",
        pattern="^(auto|numpy|numpy-int8|jax)$",
        description="sampling loop: numpy (CPU), jax (compiled, on a GPU if there is one), auto; "
        "numpy-int8: numpy with int8 LSTM weights (needs PyTorch), faster on a CPU "
        "from 512 units up, at the cost of rounding",
        json_schema_extra={"sampling": True},
    )  # gen generate --set model.sampler=... may change it
