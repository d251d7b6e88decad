"""VGG — Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", ICLR 2015 (section 3.1, "Training"), configuration D (VGG-16) on ImageNet-1k.

Mini-batch SGD with momentum 0.9, batch 256, weight decay 5e-4, dropout 0.5 on the first two
fully connected layers (the builder's default), learning rate 0.01 divided by 10 when the
validation accuracy stopped improving (three times; 370K iterations = 74 epochs).
Augmentation: 224x224 crops of the image rescaled to a random side S in [256, 512] (scale
jittering) and horizontal flips: a square crop of (224/512)^2 = 19% to (224/256)^2 = 77% of
the area. The paper's RGB colour shift is not implemented, and it initializes the deeper
configurations from configuration A (or with Glorot's init); here they start from the
builder's (torchvision's) initialization.

    keras-backbones train --recipe recipes/vgg.py --recipe.data.path=/data/imagenet
    (--recipe.model.name=vgg16_bn for the BatchNorm variant, vgg11 for configuration A)
"""

from keras_backbones.training.recipe import SCALE_CROP, imagenet_sgd


def get_config(arg=None):
    del arg
    # Training scale S jittered in [256, 512]: a 224 crop covers 19%..77% of the area.
    return imagenet_sgd("vgg16", learning_rate=0.01, batch_size=256, epochs=74,
                        weight_decay=5e-4, crop={**SCALE_CROP, "crop_scale": (0.19, 0.766)})
