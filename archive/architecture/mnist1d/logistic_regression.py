"""Logistic regression

A single linear map from the 40 raw samples to the ten class logits. It has no notion of
position or shape, so every shift of a template looks like a different input; the original
MNIST-1D study puts it near 32% test accuracy. It is here as the floor every other design must
clear, and as the cheapest possible starting point for mutation.
"""

from torch import nn


def build_model(input_shape, num_classes):
    features = input_shape[0] * input_shape[1]
    return nn.Sequential(nn.Flatten(), nn.Linear(features, num_classes))


def train_recipe():
    return {"optimizer": "adam", "lr": 0.01, "epochs": 20, "batch_size": 128, "weight_decay": 0.0}
