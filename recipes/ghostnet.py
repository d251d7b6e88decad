"""GhostNet — Han, Wang, Tian, Guo, Xu & Xu, "GhostNet: More Features from Cheap Operations",
CVPR 2020 (section 4.2, "GhostNet on Visual Benchmarks"), GhostNet 1.0x (timm's ghostnet_100)
on ImageNet-1k.

The paper follows ShuffleNet's ImageNet setting except for the starting learning rate: 0.4 at
batch 1024 (8 GPUs), weight decay 4e-5 off BatchNorm, dropout 0.2 before the classifier (these
numbers as the public reproduction argusswift/ghostnet.pytorch lists them; the paper's text was
not readable in the session that wrote this). So this is recipes/shufflenet_v1.py with the model
and that rate changed: SGD with momentum 0.9, linear decay to 0 over 240 epochs, label smoothing
0.1, random resized crops at 224 and flips. Not reproduced: what the official code may add
beyond the paper (that reproduction reached 73.6% with cosine decay and warmup instead).

    keras-backbones train --recipe recipes/ghostnet.py --recipe.data.path=/data/imagenet
"""

import os

from keras_backbones.training import recipe


def get_config(arg=None):
    del arg
    config = recipe.load(os.path.join(os.path.dirname(__file__), "shufflenet_v1.py"))
    config.model.name = "ghostnet_100"
    config.model.kwargs.dropout_rate = 0.2
    config.optimizer.learning_rate = 0.4
    return config
