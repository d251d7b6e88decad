"""Inception-v4 — Szegedy, Ioffe, Vanhoucke & Alemi, "Inception-v4, Inception-ResNet and the
Impact of Residual Connections on Learning", AAAI 2017 (section 4, "Training Methodology"),
on ImageNet-1k at 299x299; also for Inception-ResNet-v1/v2 (`get_config("inception_resnet_v2")`).

RMSProp with decay 0.9 and epsilon 1.0, learning rate 0.045 decayed every two epochs by 0.94,
evaluation with a running average of the weights (EMA 0.9999): the section's settings, which
are Inception-v3's (recipes/inception_v3.py, whose batch 32, gradient clipping 2.0, label
smoothing 0.1, TF-slim's momentum 0.9 and weight decay 4e-5 and 100 epochs are kept: the paper
gives none of them for v4). Dropout keeps 0.8 before the logits (figures 9 and 15):
dropout_rate 0.2. These networks have no auxiliary classifier.

    keras-backbones train --recipe recipes/inception_v4.py --recipe.data.path=/data/imagenet
"""

import os

from keras_backbones.training import recipe


def get_config(arg="inception_v4"):
    config = recipe.load(os.path.join(os.path.dirname(__file__), "inception_v3.py") + f":{arg}")
    config.model.kwargs.dropout_rate = 0.2
    return config
