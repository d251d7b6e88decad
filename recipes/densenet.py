"""DenseNet — Huang, Liu, van der Maaten & Weinberger, "Densely Connected Convolutional
Networks", CVPR 2017 (section 4.2, "Training"), DenseNet-121 on ImageNet-1k.

SGD with Nesterov momentum 0.9 (without dampening), batch 256, weight decay 1e-4 (every weight,
as the authors' fb.resnet.torch code), learning rate 0.1 divided by 10 at epochs 30 and 60 of
90. No dropout on ImageNet (the builder's layer_dropout_rate=0). Augmentation: the standard
scheme of fb.resnet.torch, which the paper adopts: Inception's random resized crops (8%..100% of
the area, aspect 3/4..4/3) and horizontal flips; its colour jitter and PCA lighting noise are
not implemented. The paper trains DenseNet-161 at batch 128 for 100 epochs (/10 at 30, 60 and
90): --recipe.model.name=densenet161 --recipe.batch_size=128 --recipe.epochs=100
--recipe.schedule.boundaries='(30, 60, 90)' (the learning rate scales linearly with the batch:
pass --recipe.optimizer.reference_batch_size=0 to keep 0.1 as the paper).

    keras-backbones train --recipe recipes/densenet.py --recipe.data.path=/data/imagenet
"""

from keras_backbones.training.recipe import INCEPTION_CROP, imagenet_sgd


def get_config(arg=None):
    del arg
    config = imagenet_sgd("densenet121", learning_rate=0.1, batch_size=256, epochs=90,
                          boundaries=(30, 60), crop=INCEPTION_CROP, layer_dropout_rate=0.0)
    config.optimizer.nesterov = True
    return config
