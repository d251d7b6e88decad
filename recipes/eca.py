"""ECA-Net — Wang, Wu, Zhu, Li, Zuo & Hu, "ECA-Net: Efficient Channel Attention for Deep
Convolutional Neural Networks", CVPR 2020 (section 4.1, "Implementation details"),
ECA-ResNet-50 on ImageNet-1k.

SGD with momentum 0.9, weight decay 1e-4, batch 256, learning rate 0.1 decreased by a factor of
10 every 30 epochs, 100 epochs; random resized crops (the ResNet data augmentation of
torchvision's ImageNet example, which the official code uses) and flips.

    keras-backbones train --recipe recipes/eca.py --recipe.data.path=/data/imagenet
"""

from keras_backbones.training.recipe import imagenet_sgd


def get_config(arg=None):
    del arg
    return imagenet_sgd("eca_resnet50", learning_rate=0.1, batch_size=256, epochs=100,
                        boundaries=(30, 60, 90), drop_path_rate=0.0)
