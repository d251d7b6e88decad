"""Xception — Chollet, "Xception: Deep Learning with Depthwise Separable Convolutions", CVPR
2017 (sections 4.2 "Optimization configuration", 4.3 "Regularization configuration" and 4.4), on
ImageNet-1k.

SGD with momentum 0.9, learning rate 0.045 decayed by a factor of 0.94 every 2 epochs (the
settings Szegedy et al. tuned for Inception V3, used unchanged); weight decay 1e-5 (L2, every
weight; Inception V3's 4e-5 did not suit Xception); dropout 0.5 before the logits; no
auxiliary classifier. Augmentation: Inception's random resized crops (8%..100% of the area,
aspect 3/4..4/3) and flips, at 299x299. The paper gives neither the batch size nor the epoch
count (synchronous training on 60 GPUs, about 3 days per ImageNet run): this recipe trains 100
epochs (Inception V3's count) at batch 256 without rescaling the rate. The paper's JFT recipe
(RMSprop, momentum 0.9, rate 0.001 decayed 0.9 every 3M samples) is for that dataset.

    keras-backbones train --recipe recipes/xception.py --recipe.data.path=/data/imagenet
"""

from keras_backbones.training.recipe import INCEPTION_CROP, imagenet_sgd

EPOCHS = 100


def get_config(arg=None):
    del arg
    config = imagenet_sgd("xception", learning_rate=0.045, batch_size=256, epochs=EPOCHS,
                          weight_decay=1e-5, crop=INCEPTION_CROP,
                          boundaries=tuple(range(2, EPOCHS, 2)), dropout_rate=0.5)
    config.schedule.decay_rate = 0.94
    config.optimizer.reference_batch_size = 0  # the paper ties the rate to no batch size
    return config
