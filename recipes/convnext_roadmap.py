"""ConvNeXt's roadmap — Liu, Mao, Wu, Feichtenhofer, Darrell & Xie, "A ConvNet for the 2020s",
CVPR 2022 (section 2, figure 2): every step from ResNet-50 to ConvNeXt-T trained as the paper
trains them, with the ConvNeXt recipe (recipes/convnext.py: AdamW, 300 epochs, RandAugment,
Mixup/CutMix, label smoothing, EMA) and ConvNeXt-T's stochastic depth of 0.1.

The argument is the step (a name of keras_backbones.models.convnext_roadmap.STEP_NAMES):

    keras-backbones train --recipe recipes/convnext_roadmap.py:gelu --recipe.data.path=/data/imagenet

and `--recipe.model.kwargs.kernel_size=9` reruns a point of the paper's kernel sweep.
"""

import os

from keras_backbones.training import recipe


def get_config(arg="layer_scale"):
    config = recipe.load(os.path.join(os.path.dirname(__file__), "convnext.py") + ":convnext_tiny")
    config.model.name = "convnext_roadmap"
    config.model.kwargs.step = arg
    config.model.kwargs.kernel_size = None
    return config
