"""MobileNetV2 — Sandler, Howard, Zhu, Zhmoginov & Chen, "MobileNetV2: Inverted Residuals and
Linear Bottlenecks", CVPR 2018 (section 6.1, "Training setup"), MobileNetV2 at width 1.0 on
ImageNet-1k.

The MobileNetV1 recipe (recipes/mobilenet_v1.py), which the paper follows: RMSProp with decay
and momentum 0.9 (epsilon 1.0: TF-slim's train_image_classifier default, the paper gives none),
learning rate 0.045 multiplied by 0.98 after every epoch, batch 96 on each of 16 GPU workers
(asynchronous in the paper, synchronous here), 300 epochs (ours). What MobileNetV2 changes:
"the standard weight decay" of 4e-5 on every kernel, the depthwise ones included (norms and
biases not), and Inception's random crops (8%..100% of the area) and flips; dropout 0.2 before
the classifier is torchvision's (the paper gives none).

    keras-backbones train --recipe recipes/mobilenet_v2.py --recipe.data.path=/data/imagenet
"""

import os

from keras_backbones.training import recipe


def get_config(arg=None):
    del arg
    config = recipe.load(os.path.join(os.path.dirname(__file__), "mobilenet_v1.py"))
    config.model.name = "mobilenet_v2"
    config.model.kwargs.dropout_rate = 0.2
    config.augment.update(recipe.INCEPTION_CROP)
    config.optimizer.no_decay_names = ()
    return config
