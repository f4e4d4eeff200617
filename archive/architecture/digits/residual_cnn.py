"""Residual CNN

A convolutional stem followed by two residual blocks (conv, batch norm, ReLU, conv, batch norm,
plus the identity), then global average pooling. Skip connections keep gradients flowing as the
network deepens, so mutations can add blocks without making it harder to train.
"""

import torch
from torch import nn


class ResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x):
        return torch.relu(x + self.body(x))


def build_model(input_shape, num_classes):
    channels = 16
    return nn.Sequential(
        nn.Conv2d(input_shape[0], channels, 3, padding=1),
        nn.ReLU(),
        ResidualBlock(channels),
        ResidualBlock(channels),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(channels, num_classes),
    )


def train_recipe():
    return {"optimizer": "adam", "lr": 0.003, "epochs": 15, "batch_size": 64, "weight_decay": 0.0}
