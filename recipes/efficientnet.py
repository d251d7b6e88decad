"""EfficientNet — Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural
Networks", ICML 2019 (section 5.2, "ImageNet Results for EfficientNet"), and the official TPU
code (tensorflow/tpu models/official/efficientnet: main.py, efficientnet_builder.py) where
the paper is silent; any of B0-B7 on ImageNet-1k.

The MnasNet setup (recipes/mnasnet.py) as the paper states it: RMSProp with decay 0.9 and
momentum 0.9 (epsilon 1e-3, the official code), learning rate 0.256 at batch 4096 (0.016 per
256 images, scaled linearly with the batch), warmed up linearly over 5 epochs (the official
code) and then multiplied by 0.97 every 2.4 epochs, weight decay 1e-5, BatchNorm momentum 0.99
(the builder's norm_momentum 0.01, PyTorch's convention), swish (the models' activation),
stochastic depth 0.2 (survival probability 0.8, rising linearly over the blocks), dropout
before the classifier from 0.2 (B0) to 0.5 (B7) as the official efficientnet_params, and "a
fixed AutoAugment policy": the official code's, policy "v0" of its autoaugment.py (the only
ImageNet policy there; `augment.autoaugment="v0"`, with that file's magnitudes: 250-pixel
translations, gray fill), not the paper appendix's ImageNet policy (which
`--recipe.augment.autoaugment=imagenet` selects); from the official code: label smoothing 0.1,
an exponential moving average of the weights with decay 0.9999, 350 epochs, Inception's random
crops and flips at the variant's resolution (224 for B0 to 600 for B7).

    keras-backbones train --recipe recipes/efficientnet.py:efficientnet_b0 --recipe.data.path=/data/imagenet

The argument is the variant (efficientnet_b0 .. efficientnet_b7).

Not reproduced: weight decay skips the biases as well as the norms (the official code decays
every weight but BatchNorm's). The paper's early stopping on a 25k-image minival split is not
done. The 0.256 peak holds at batch 4096; on fewer accelerators the rate scales down linearly
with the batch.
"""

import os

from keras_backbones.training import recipe

# The official efficientnet_params: (resolution, dropout) of each variant.
VARIANTS = {
    "efficientnet_b0": (224, 0.2), "efficientnet_b1": (240, 0.2), "efficientnet_b2": (260, 0.3),
    "efficientnet_b3": (300, 0.3), "efficientnet_b4": (380, 0.4), "efficientnet_b5": (456, 0.4),
    "efficientnet_b6": (528, 0.5), "efficientnet_b7": (600, 0.5),
}


def get_config(arg="efficientnet_b0"):
    if arg not in VARIANTS:
        raise ValueError(f"recipes/efficientnet.py: the argument is one of {', '.join(VARIANTS)}; "
                         f"got {arg!r}.")
    resolution, dropout = VARIANTS[arg]
    config = recipe.load(os.path.join(os.path.dirname(__file__), "mnasnet.py"))
    config.model.name = arg
    config.model.kwargs.update(dropout_rate=dropout, drop_path_rate=0.2, norm_momentum=0.01)
    config.data.image_size = resolution
    config.augment.autoaugment = "v0"
    return config
