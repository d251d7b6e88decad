"""Wide ResNet — Zagoruyko & Komodakis, "Wide Residual Networks", BMVC 2016 (section 3,
"Experimental results"), WRN-28-10 with dropout 0.3 on CIFAR-10.

SGD with Nesterov momentum 0.9, batch 128, weight decay 5e-4 (every weight, as the official
code), learning rate 0.1 divided by 5 at epochs 60, 120 and 160 of 200, dropout 0.3 between the
convolutions of each block (the builder's wrn28_10 default), mean/std normalization.
Augmentation: horizontal flips and random 32x32 crops of the image zero-padded by 4 pixels.
CIFAR-10 comes from TFDS prepared in a local data_dir (never downloaded):
    keras-backbones train --recipe recipes/wrn.py --recipe.data.path=~/tensorflow_datasets
"""

from keras_backbones.training.recipe import defaults


def get_config(arg=None):
    del arg
    config = defaults()
    config.model.name = "wrn28_10"
    config.model.kwargs.dropout_rate = 0.3
    config.data.update(source="tfds", name="cifar10", cache=True)
    config.augment.update(crop_scale=None, pad_crop=4, flip=True)
    config.optimizer.update(name="sgd", learning_rate=0.1, momentum=0.9, nesterov=True,
                            weight_decay=5e-4, reference_batch_size=128)
    config.schedule.update(name="step", boundaries=(60, 120, 160), decay_rate=0.2)
    config.epochs = 200
    config.batch_size = 128
    return config
