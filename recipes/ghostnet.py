"""GhostNet — Han, Wang, Tian, Guo, Xu & Xu, "GhostNet: More Features from Cheap Operations",
CVPR 2020 (section 4.2, "GhostNet on Visual Benchmarks"), GhostNet 1.0x (timm's ghostnet_100)
on ImageNet-1k.

PROVISIONAL: the paper's own optimizer, schedule and length were not checked against its text
when this recipe was written (no access to the paper in that session). Until they are, this
is the MobileNetV3 recipe (recipes/mobilenet_v3.py: RMSProp 0.1 at batch 4096 with momentum
0.9, x0.99 every 3 epochs, 350 epochs, weight decay 1e-5, EMA 0.9999, Inception crops and
flips), the setting GhostNet compares itself with, and the model's dropout 0.2 before the
classifier (timm's and the official code's). Not reproduced: everything the paper sets beyond
that.

    keras-backbones train --recipe recipes/ghostnet.py --recipe.data.path=/data/imagenet
"""

import os

from keras_backbones.training import recipe


def get_config(arg=None):
    del arg
    config = recipe.load(os.path.join(os.path.dirname(__file__), "mobilenet_v3.py"))
    config.model.name = "ghostnet_100"
    config.model.kwargs.dropout_rate = 0.2
    return config
