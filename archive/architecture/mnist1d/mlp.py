"""Two-layer MLP

A fully connected network with two hidden layers of 100 units and ReLU activations. Hidden
layers let it combine samples non-linearly, which lifts it well above logistic regression
(about 68% in the MNIST-1D paper), but it still has to learn every translated copy of a
template separately, because nothing in it is shared across positions.
"""

from torch import nn


def build_model(input_shape, num_classes):
    features = input_shape[0] * input_shape[1]
    hidden = 100
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(features, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, num_classes),
    )


def train_recipe():
    return {"optimizer": "adam", "lr": 0.002, "epochs": 20, "batch_size": 64, "weight_decay": 0.0}
