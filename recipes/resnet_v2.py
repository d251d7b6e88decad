"""Pre-activation ResNet — He, Zhang, Ren & Sun, "Identity Mappings in Deep Residual
Networks", ECCV 2016 (section 5 and appendix), ResNet-50 v2 on ImageNet-1k.

The paper trains its ImageNet models as the ResNet paper does (fb.resnet.torch): SGD with
momentum 0.9, batch 256, weight decay 1e-4, learning rate 0.1 divided by 10 at epochs 30 and
60, 90 epochs, scale augmentation (224x224 crops of a random shorter side in [256, 480]) and
flips. (For its deepest networks it warms up at 0.01 for the first ~1 epoch: set
--recipe.schedule.warmup_epochs=1 --recipe.schedule.warmup_start=0.1.)

    keras-backbones train --recipe recipes/resnet_v2.py --recipe.data.path=/data/imagenet
"""

from keras_backbones.training.recipe import SCALE_CROP, imagenet_sgd


def get_config(arg=None):
    del arg
    return imagenet_sgd("resnetv2_50", learning_rate=0.1, batch_size=256, epochs=90,
                        boundaries=(30, 60), crop=SCALE_CROP)
