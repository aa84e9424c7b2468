"""The network whose features the metrics compare: a small LeNet trained to classify the real images.

FID compares real and generated images in the feature space of an ImageNet Inception network,
which knows nothing about 28x28 digits. The course does the same with `FeatureNet`, trained on
each dataset's real training split (scripts/train_classifier.py); the trained weights ship with
the package (`gan_lessons.pretrained.load_feature_net`) and `gan_lessons.metrics` uses them.
"""
from torch import nn


class FeatureNet(nn.Module):
    """A LeNet-style digit / clothing classifier: image [B, 1, 28, 28] -> logits [B, 10].

    `features(x)` returns the 128 numbers before the last layer ([B, 128]); the metrics compare
    real and generated images in that space, the way FID uses an Inception network's features,
    and use the class probabilities softmax(head(features)) for the score and the class coverage.
    """

    feature_dim = 128

    def __init__(self, num_classes=10):
        super().__init__()
        self.config = dict(num_classes=num_classes)
        self.conv = nn.Sequential(
            nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),  # [B, 16, 14, 14]
            nn.Conv2d(16, 32, 5), nn.ReLU(), nn.MaxPool2d(2),  # [B, 32, 5, 5]
        )
        self.fc = nn.Sequential(nn.Flatten(), nn.Dropout(0.25), nn.Linear(32 * 5 * 5, self.feature_dim), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(0.25), nn.Linear(self.feature_dim, num_classes))

    def features(self, x):
        return self.fc(self.conv(x))  # [B, 1, 28, 28] -> [B, 128]

    def forward(self, x):
        return self.head(self.features(x))  # [B, 10]
