"""EffNet — Freeman, Roese-Koerner & Kummert, "EffNet: An Efficient Structure for Convolutional
Neural Networks", ICIP 2018 (arXiv:1801.06434), the CIFAR-10 network of section 4.

The paper compares its blocks with MobileNet's and ShuffleNet's on CIFAR-10 under one training
setup but does not state the optimizer, schedule or augmentation. This recipe is therefore the
package's for a small CIFAR network, not the paper's: Adam 1e-3 with a cosine decay over 100
epochs, batch 128, no weight decay, random crops of the image zero-padded by 4 pixels and horizontal
flips, mean/std normalization. The network itself is the paper's (keras_backbones.models.effnet).
CIFAR-10 comes from TFDS prepared in a local data_dir (never downloaded):
    keras-backbones train --recipe recipes/effnet.py --recipe.data.path=~/tensorflow_datasets
"""

from keras_backbones.training.recipe import defaults


def get_config(arg=None):
    del arg
    config = defaults()
    config.model.name = "effnet"
    config.data.update(source="tfds", name="cifar10", cache=True)
    config.augment.update(crop_scale=None, pad_crop=4, flip=True)
    # Adam: AdamW without its decoupled decay.
    config.optimizer.update(name="adamw", learning_rate=1e-3, weight_decay=0.0,
                            reference_batch_size=128)
    config.schedule.update(name="cosine")
    config.epochs = 100
    config.batch_size = 128
    return config
