"""Small 1-D CNN

Three stride-2 convolutions over the 40-step signal, each followed by a ReLU, then global
average pooling and a linear read-out: about 5k parameters. Convolutions share weights along the
sequence, so the model is translation-equivariant - exactly the invariance MNIST-1D's shifted
templates call for - and the pooling makes the final decision position-free. This is the
family that reaches about 94% in the original MNIST-1D study.
"""

import torch
from torch import nn


def build_model(input_shape, num_classes):
    channels = 24
    kernel = 5
    return nn.Sequential(
        nn.Conv1d(input_shape[0], channels, kernel, stride=2, padding=kernel // 2),
        nn.ReLU(),
        nn.Conv1d(channels, channels, kernel, stride=2, padding=kernel // 2),
        nn.ReLU(),
        nn.Conv1d(channels, channels, kernel, stride=2, padding=kernel // 2),
        nn.ReLU(),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(channels, num_classes),
    )


def train_recipe():
    return {"optimizer": "adam", "lr": 0.003, "epochs": 15, "batch_size": 64, "weight_decay": 0.0}
