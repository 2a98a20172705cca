"""A small ResNet for 32x32 images (He et al., 2016, the CIFAR variant): three stages of basic
blocks at widths 16, 32, 64. The default, one block per stage (ResNet-8), has 78,042
parameters; blocks=(3, 3, 3) is ResNet-20."""

from __future__ import annotations

import framework.nn as nn


class BasicBlock(nn.Module):
    """relu(bn(conv3x3(relu(bn(conv3x3(x))))) + shortcut(x)): x (N, C_in, H, W) ->
    (N, C_out, H/stride, W/stride). The shortcut is a 1x1 conv + BN when the shape changes."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x):
        h = self.bn1(self.conv1(x)).relu()
        h = self.bn2(self.conv2(h))
        return (h + self.shortcut(x)).relu()


class ResNet(nn.Module):
    """x (N, 3, 32, 32) -> stem conv (N, 16, 32, 32) -> stages (N, 64, 8, 8) -> global average
    pool (N, 64) -> (N, num_classes)."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3,
                 blocks: tuple[int, ...] = (1, 1, 1), widths: tuple[int, ...] = (16, 32, 64)):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(widths[0])
        layers, channels = [], widths[0]
        for i, (n, width) in enumerate(zip(blocks, widths)):
            for j in range(n):
                stride = 2 if i > 0 and j == 0 else 1
                layers.append(BasicBlock(channels, width, stride))
                channels = width
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x):
        h = self.bn(self.conv(x)).relu()
        h = self.layers(h)
        return self.fc(self.pool(h).flatten(1))
