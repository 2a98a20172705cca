"""Models for the framework's benchmarks, each a framework.nn.Module (shapes in the docstrings).

    from models import build_model
    model = build_model("cnn")               # the MNIST-1D paper's CNN, 5,210 parameters

MNIST-1D baselines (the paper's sizes): Logistic, MLP, CNN, GRU. Images: LeNet5 (28x28),
ResNet (32x32, CIFAR-10). Text: GPT (character level).
"""

from __future__ import annotations

from .gpt import GPT
from .lenet import LeNet5
from .mnist1d import CNN, GRU, MLP, Logistic
from .resnet import ResNet

# The names train.py's --model accepts.
MODELS = {
    "logistic": Logistic,
    "mlp": MLP,
    "cnn": CNN,
    "gru": GRU,
    "lenet5": LeNet5,
    "resnet": ResNet,
    "gpt": GPT,
}


def build_model(name: str, **kwargs):
    """MODELS[name](**kwargs), with an error naming the choices for an unknown name."""
    try:
        cls = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}") from None
    return cls(**kwargs)


__all__ = ["CNN", "GPT", "GRU", "LeNet5", "Logistic", "MLP", "MODELS", "ResNet", "build_model"]
