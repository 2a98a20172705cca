"""The MNIST-1D paper's baselines (Greydanus & Kobak, 2020), with the paper's sizes.

Each takes x: (N, 40) signals (a trailing channel dimension is accepted too) and returns class
logits (N, 10). Parameter counts with the defaults: Logistic 410, MLP 15,210, CNN 5,210,
GRU 5,134.
"""

from __future__ import annotations

import framework.nn as nn


class Logistic(nn.Module):
    """Multinomial logistic regression: x (N, *) flattened to (N, in_features) -> (N, classes)."""

    def __init__(self, in_features: int = 40, num_classes: int = 10):
        super().__init__()
        self.linear = nn.Linear(in_features, num_classes)

    def forward(self, x):
        return self.linear(x.flatten(1))


class MLP(nn.Module):
    """Two ReLU hidden layers, the second residual (h = h + relu(W2 h + b2)), as in the paper:
    x (N, *) flattened to (N, in_features) -> (N, num_classes)."""

    def __init__(self, in_features: int = 40, num_classes: int = 10, hidden: int = 100):
        super().__init__()
        self.linear1 = nn.Linear(in_features, hidden)
        self.linear2 = nn.Linear(hidden, hidden)
        self.linear3 = nn.Linear(hidden, num_classes)

    def forward(self, x):
        h = self.linear1(x.flatten(1)).relu()
        h = h + self.linear2(h).relu()
        return self.linear3(h)


class CNN(nn.Module):
    """Three strided 1-D convolutions with ReLUs, then a linear classifier:
    x (N, L) or (N, 1, L) -> conv1 (N, 25, 19) -> conv2 (N, 25, 10) -> conv3 (N, 25, 5)
    -> flatten (N, 125) -> (N, num_classes), for L = 40."""

    def __init__(self, num_classes: int = 10, channels: int = 25, length: int = 40):
        super().__init__()
        self.conv1 = nn.Conv1d(1, channels, 5, stride=2, padding=1)
        self.conv2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        for k in (5, 3, 3):  # each conv (stride 2, padding 1): L -> (L + 2 - k) // 2 + 1
            length = (length + 2 - k) // 2 + 1
        self.linear = nn.Linear(channels * length, num_classes)

    def forward(self, x):
        h = x.reshape(x.shape[0], 1, -1)
        h = self.conv1(h).relu()
        h = self.conv2(h).relu()
        h = self.conv3(h).relu()
        return self.linear(h.flatten(1))


class GRU(nn.Module):
    """A bidirectional GRU read along the signal, every step's output into a linear layer:
    x (N, L) -> (N, L, 1) -> GRU (N, L, 2*hidden) -> flatten (N, L*2*hidden) -> (N, classes)."""

    def __init__(self, num_classes: int = 10, hidden: int = 6, length: int = 40,
                 bidirectional: bool = True):
        super().__init__()
        self.rnn = nn.GRU(1, hidden, batch_first=True, bidirectional=bidirectional)
        self.linear = nn.Linear(length * hidden * (2 if bidirectional else 1), num_classes)

    def forward(self, x):
        h, _ = self.rnn(x.reshape(x.shape[0], -1, 1))
        return self.linear(h.flatten(1))
