"""CBAM — Woo, Park, Lee & Kweon, "CBAM: Convolutional Block Attention Module", ECCV 2018
(section 4.1), CBAM-ResNet-50 on ImageNet-1k.

The paper trains "with the same data augmentation scheme as [ResNet, Inception] ... for 90
epochs"; the official code (Jongchan/attention-module, train_imagenet.py): SGD with momentum
0.9, batch 256, weight decay 1e-4, learning rate 0.1 divided by 10 every 30 epochs, random
resized crops and flips.

    keras-backbones train --recipe recipes/cbam.py --recipe.data.path=/data/imagenet
"""

from keras_backbones.training.recipe import imagenet_sgd


def get_config(arg=None):
    del arg
    return imagenet_sgd("cbam_resnet50", learning_rate=0.1, batch_size=256, epochs=90,
                        boundaries=(30, 60), drop_path_rate=0.0)
