"""SqueezeNet — Iandola, Han, Moskewicz, Ashraf, Dally & Keutzer, "SqueezeNet: AlexNet-level
accuracy with 50x fewer parameters and <0.5MB model size", 2016; the paper defers its training
details to the official Caffe solver (github.com/forresti/SqueezeNet, SqueezeNet_v1.0/
solver.prototxt and train_val.prototxt, also used for v1.1), SqueezeNet 1.0 on ImageNet-1k.

SGD with momentum 0.9, batch 512 (32 x iter_size 16), weight decay 2e-4 (every weight),
learning rate 0.04 decreased linearly to 0 (Caffe's "poly" policy, power 1) over 170,000
iterations (68 epochs); dropout 0.5 before conv10 (the builder's default). Augmentation: random
227x227 crops of the 256x256 image (a square crop of (227/256)^2 = 79% of the area), no flips
(the prototxt sets no mirror). Earlier versions of the solver used rate 0.08, power 0.5 and batch
1024 for the same number of epochs.

    keras-backbones train --recipe recipes/squeezenet.py --recipe.data.path=/data/imagenet
    (--recipe.model.name=squeezenet1_1; --recipe.model.kwargs.bypass=simple for the paper's
    simple bypass variant)
"""

from keras_backbones.training.recipe import imagenet_sgd

CAFFE_CROP = {"crop_scale": (0.786, 0.786), "crop_ratio": (1.0, 1.0), "flip": False}


def get_config(arg=None):
    del arg
    config = imagenet_sgd("squeezenet1_0", learning_rate=0.04, batch_size=512, epochs=68,
                          weight_decay=2e-4, crop=CAFFE_CROP, bypass=None)
    config.schedule.update(name="poly", power=1.0, min_learning_rate=0.0)
    config.data.image_size = 227
    return config
