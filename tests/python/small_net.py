"""The small PyTorch CNN of the from_torch tests (tests/reference/make_python_fixtures.py made its fixtures):
conv 8 - relu - maxpool - conv 16 - relu - maxpool - flatten - linear 32 - relu - linear 10 on [1, 28, 28],
ReLUs as modules (so Zennit's composites pass relevance through them), weights in
tests/fixtures/python/small_net.npz (seeded random init)."""
import numpy as np
import torch
from torch import nn


class SmallNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(16 * 7 * 7, 32)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        return self.fc2(self.relu3(self.fc1(self.flatten(x))))


def load(path):
    """SmallNet with the weights saved in path (.npz of its state_dict), in eval mode."""
    model = SmallNet()
    with np.load(path) as w:
        model.load_state_dict({k: torch.from_numpy(w[k]) for k in w.files})
    return model.eval()
