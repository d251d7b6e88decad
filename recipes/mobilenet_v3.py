"""MobileNetV3 — Howard, Sandler, Chu, Chen, Chen, Tan, Wang, Zhu, Pang, Vasudevan, Le & Adam,
"Searching for MobileNetV3", ICCV 2019 (section 6.1.1, "Training setup"), MobileNetV3-Large at
width 1.0 on ImageNet-1k.

The MnasNet TPU setup (recipes/mnasnet.py) with the paper's changes: RMSProp with momentum 0.9
(decay 0.9 and epsilon 1e-3 as the MnasNet code), learning rate 0.1 at batch 4096 (scaled
linearly with the batch) without warmup, "learning rate decay rate of 0.01 every 3 epochs",
read as a multiplication by 0.99 every 3 epochs, dropout 0.8 (a keep probability: rate 0.2
before the classifier), weight decay 1e-5 (not on norms and biases), "the same image
preprocessing as Inception" (random crops, flips) without label smoothing, and an exponential
moving average of the weights with decay 0.9999. Not in the paper (ours): the length, 350
epochs as the MnasNet code.

    keras-backbones train --recipe recipes/mobilenet_v3.py --recipe.data.path=/data/imagenet
"""

import os

from keras_backbones.training import recipe

DECAY_EVERY = 3  # epochs


def get_config(arg=None):
    del arg
    config = recipe.load(os.path.join(os.path.dirname(__file__), "mnasnet.py"))
    config.model.name = "mobilenet_v3_large"
    config.augment.label_smoothing = 0.0
    config.optimizer.update(learning_rate=0.1, reference_batch_size=4096)
    config.schedule.update(warmup_epochs=0.0, decay_rate=0.99,
                           boundaries=tuple(range(DECAY_EVERY, config.epochs, DECAY_EVERY)))
    return config
