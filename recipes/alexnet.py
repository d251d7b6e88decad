"""AlexNet — Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep Convolutional
Neural Networks", NeurIPS 2012 (section 5, "Details of learning"), on ImageNet-1k.

    default      the paper: `alexnet_original` (two towers, LRN, the paper's init), SGD with
                 momentum 0.9, batch 128, weight decay 0.0005 on every weight, learning rate 0.01
                 divided by 10 when the validation error stopped improving (three times in
                 ~90 epochs), dropout 0.5 in fc6/fc7 (the builder's default).
                 Augmentation (section 4.1): random 224x224 patches of the 256x256 image and
                 their mirror images: a square crop of (224/256)^2 = 77% of the area. The paper's
                 PCA colour noise is not implemented.
    torchvision  `alexnet` (the "one weird trick" single tower) with torchvision's reference
                 recipe (references/classification/README.md): lr 0.01, batch 256, wd 1e-4,
                 /10 every 30 epochs, 90 epochs, random resized crops.

    keras-backbones train --recipe recipes/alexnet.py --recipe.data.path=/data/imagenet
"""

from keras_backbones.training.recipe import imagenet_sgd


def get_config(arg="paper"):
    if arg == "paper":
        return imagenet_sgd("alexnet_original", learning_rate=0.01, batch_size=128, epochs=90,
                            weight_decay=5e-4, crop={"crop_scale": (0.766, 0.766),
                                                     "crop_ratio": (1.0, 1.0), "flip": True})
    if arg == "torchvision":
        return imagenet_sgd("alexnet", learning_rate=0.01, batch_size=256, epochs=90,
                            boundaries=(30, 60))
    raise ValueError(f"recipes/alexnet.py takes 'paper' or 'torchvision'; got {arg!r}.")
