"""MLP

A hidden layer of 64 ReLU units between the flattened pixels and the logits. The non-linearity
separates digits that overlap linearly (a 1 from a 7, a 3 from an 8) at the cost of ignoring
the image's 2-D structure.
"""

from torch import nn


def build_model(input_shape, num_classes):
    features = input_shape[0] * input_shape[1] * input_shape[2]
    hidden = 64
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(features, hidden),
        nn.ReLU(),
        nn.Linear(hidden, num_classes),
    )


def train_recipe():
    return {"optimizer": "adam", "lr": 0.005, "epochs": 20, "batch_size": 64, "weight_decay": 0.0}
