"""LeNet-5 (LeCun et al., 1998) for 28x28 images, in its common modern form (ReLU, max pooling);
61,706 parameters for 1-channel inputs and 10 classes."""

from __future__ import annotations

import framework.nn as nn


class LeNet5(nn.Module):
    """x (N, C, 28, 28) -> conv 5x5 pad 2 (N, 6, 28, 28) -> pool (N, 6, 14, 14)
    -> conv 5x5 (N, 16, 10, 10) -> pool (N, 16, 5, 5) -> 400 -> 120 -> 84 -> (N, num_classes).
    A (N, 28, 28) batch is read as one channel."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        if x.ndim == 3:
            x = x.unsqueeze(1)
        h = self.pool(self.conv1(x).relu())
        h = self.pool(self.conv2(h).relu())
        h = self.fc1(h.flatten(1)).relu()
        h = self.fc2(h).relu()
        return self.fc3(h)
