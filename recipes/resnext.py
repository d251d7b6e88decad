"""ResNeXt — Xie, Girshick, Dollár, Tu & He, "Aggregated Residual Transformations for Deep
Neural Networks", CVPR 2017 (section 4, "Implementation details"), ResNeXt-50 (32x4d) on
ImageNet-1k.

SGD with momentum 0.9, batch 256 (8 GPUs x 32), weight decay 1e-4, learning rate 0.1 divided by
10 three times on the schedule of fb.resnet.torch (every 30 epochs: 30, 60, 90); the paper
does not give the epoch count, 100 lets the third decay act. Augmentation: the scale and
aspect-ratio augmentation of Inception (random resized crops, 8%..100% of the area) as
fb.resnet.torch, and flips. He initialization (the builder's).

    keras-backbones train --recipe recipes/resnext.py --recipe.data.path=/data/imagenet
"""

from keras_backbones.training.recipe import imagenet_sgd


def get_config(arg=None):
    del arg
    return imagenet_sgd("resnext50_32x4d", learning_rate=0.1, batch_size=256, epochs=100,
                        boundaries=(30, 60, 90), drop_path_rate=0.0)
