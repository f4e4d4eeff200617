"""GRU over the sequence

A one-layer gated recurrent network reads the signal one sample at a time and classifies from
its final hidden state. Recurrence shares weights over time, so it can follow a template
wherever it starts (about 91% in the MNIST-1D paper), but it reads strictly left to right and
is slower to train than a convolution on a CPU.
"""

import torch
from torch import nn


class GRUClassifier(nn.Module):
    def __init__(self, channels, hidden, num_classes):
        super().__init__()
        self.rnn = nn.GRU(channels, hidden, batch_first=True)
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, x):
        sequence = x.transpose(1, 2)  # (batch, length, channels)
        _, last = self.rnn(sequence)
        return self.head(last[-1])


def build_model(input_shape, num_classes):
    hidden = 32
    return GRUClassifier(input_shape[0], hidden, num_classes)


def train_recipe():
    return {"optimizer": "adam", "lr": 0.005, "epochs": 15, "batch_size": 64, "weight_decay": 0.0}
