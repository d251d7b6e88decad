"""SENet — Hu, Shen, Albanie, Sun & Wu, "Squeeze-and-Excitation Networks", CVPR 2018 / TPAMI
(section 6.1 and appendix), SE-ResNet-50 on ImageNet-1k.

Synchronous SGD with momentum 0.9, batch 1024, learning rate 0.6 decreased by a factor of 10
every 30 epochs, 100 epochs, from scratch, weight decay 1e-4 (the authors' Caffe solver);
random-size cropping to 224x224 (Inception's, 8%..100% of the area) and flips. The paper's
balanced data sampling is not implemented. The learning rate scales linearly with the batch:
0.15 at 256.

    keras-backbones train --recipe recipes/senet.py --recipe.data.path=/data/imagenet
"""

from keras_backbones.training.recipe import imagenet_sgd


def get_config(arg=None):
    del arg
    return imagenet_sgd("seresnet50", learning_rate=0.6, batch_size=1024, epochs=100,
                        boundaries=(30, 60, 90), drop_path_rate=0.0)
