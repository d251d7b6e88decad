"""EfficientNetV2 — Tan & Le, "EfficientNetV2: Smaller Models and Faster Training", ICML 2021
(section 5.1, "ImageNet ILSVRC2012", and section 4.2, progressive learning), and the official
code (google/automl efficientnetv2: hparams.py, effnetv2_configs.py, main.py) where the paper
is silent; V2-S, M, L or B0 on ImageNet-1k.

As the paper states it, the EfficientNet setup (recipes/efficientnet.py): RMSProp with decay
0.9 and momentum 0.9 (epsilon 1e-3), learning rate warmed up from 0 to 0.256 at batch 4096
(over 5 epochs, the official code; scaled linearly with the batch) and then multiplied by 0.97
every 2.4 epochs, weight decay 1e-5 (not on norms and biases, as the official code), BatchNorm
momentum 0.99 (norm_momentum 0.01; the official code's default is 0.9), 350 epochs, an
exponential moving average with decay 0.9999, stochastic depth 0.2 (survival 0.8), dropout,
RandAugment and Mixup; from the official code: label smoothing 0.1, CutMix beside Mixup, and
each variant's dropout, training size, RandAugment magnitude and Mixup/CutMix alpha
(efficientnetv2_params):

    variant  train size  dropout  RandAugment  Mixup/CutMix
    S        300         0.2      10           0
    M        384         0.3      15           0.2
    L        384         0.4      20           0.5
    B0       192         0.2      (AutoAugment) 0

    keras-backbones train --recipe recipes/efficientnet_v2.py:efficientnet_v2_s --recipe.data.path=/data/imagenet

Progressive learning (section 4.2): the official code trains in 4 stages of 87.5 epochs, stage
k of 4 at image size 128 + (train size - 128) x k / 4 (S: 171, 214, 257, 300), with
RandAugment's magnitude rising linearly from 5 and Mixup/CutMix's alpha from 0 to the values
above. Reproduced: the last stage's setting, held for all 350 epochs (one image size per run in
this pipeline); not reproduced: the smaller images and weaker regularization of the first three
stages, and so the training speed-up it brings. Also not reproduced: RandAugment magnitudes
above 10 (timm's 0..10 scale here; M and L train at 10), evaluation at the larger size (384
for S, 480 for M and L: the run evaluates at its training size; evaluate the exported model at
the model's default size).
Mixup and CutMix alternate per batch (timm's switch, probability 0.5). B0 trains with
EfficientNet's AutoAugment instead of RandAugment (effnetv2_configs: 'effnetv1_autoaug', the
policy "v0" of recipes/efficientnet.py).
"""

import os

from keras_backbones.training import recipe

# efficientnetv2_params: (train size, dropout, RandAugment magnitude (None: EfficientNet's
# AutoAugment, policy "v0"), Mixup and CutMix alpha).
VARIANTS = {
    "efficientnet_v2_s": (300, 0.2, 10, 0.0),
    "efficientnet_v2_m": (384, 0.3, 15, 0.2),
    "efficientnet_v2_l": (384, 0.4, 20, 0.5),
    "efficientnet_v2_b0": (192, 0.2, None, 0.0),
}
MAX_MAGNITUDE = 10.0  # timm's RandAugment scale, which the pipeline uses


def get_config(arg="efficientnet_v2_s"):
    if arg not in VARIANTS:
        raise ValueError(f"recipes/efficientnet_v2.py: the argument is one of "
                         f"{', '.join(VARIANTS)}; got {arg!r}.")
    size, dropout, magnitude, alpha = VARIANTS[arg]
    config = recipe.load(os.path.join(os.path.dirname(__file__), "mnasnet.py"))
    config.model.name = arg
    config.model.kwargs.update(dropout_rate=dropout, drop_path_rate=0.2, norm_momentum=0.01)
    config.data.image_size = size
    if magnitude is None:
        config.augment.autoaugment = "v0"
    else:
        config.augment.randaugment = {"num_layers": 2,
                                      "magnitude": min(float(magnitude), MAX_MAGNITUDE),
                                      "magnitude_std": 0.0}
    if alpha:
        config.augment.update(mixup_alpha=alpha, cutmix_alpha=alpha, mix_prob=1.0,
                              switch_prob=0.5)
    return config
