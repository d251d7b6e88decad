"""ResNet — He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition", CVPR 2016
(section 3.4, "Implementation"), ResNet-50 on ImageNet-1k.

SGD with momentum 0.9, batch 256, weight decay 1e-4 (every weight, as the paper and
fb.resnet.torch), learning rate 0.1 divided by 10 when the error plateaus: at epochs 30 and 60
of 90, the schedule of fb.resnet.torch (the authors' reproduction) and of torchvision's
reference recipe. No dropout. Augmentation: 224x224 crops of the image rescaled to a random
shorter side in [256, 480] (a square crop of 22%..77% of the area) and horizontal flips; the
standard colour augmentation of AlexNet is not implemented. BatchNorm: PyTorch's momentum 0.1,
eps 1e-5 (the builder's).

The learning rate scales linearly with the global batch (Goyal et al. 2017): --recipe.batch_size
=1024 trains at 0.4. drop_path_rate (stochastic depth, linear per block) is 0 in the paper.

    keras-backbones train --recipe recipes/resnet.py --recipe.data.path=/data/imagenet
"""

from keras_backbones.training.recipe import SCALE_CROP, imagenet_sgd


def get_config(arg=None):
    del arg
    return imagenet_sgd("resnet50", learning_rate=0.1, batch_size=256, epochs=90,
                        boundaries=(30, 60), crop=SCALE_CROP, drop_path_rate=0.0)
