"""Swin Transformer — Liu, Lin, Cao, Hu, Wei, Zhang, Lin & Guo, "Swin Transformer: Hierarchical
Vision Transformer using Shifted Windows", ICCV 2021 (appendix A2.1, "Image classification on
ImageNet-1K"), with the official microsoft/Swin-Transformer config.py where the paper is silent.

AdamW (betas 0.9, 0.999, eps 1e-8), learning rate 1e-3 at batch 1024 (the code's 5e-4 x batch /
512), weight decay 0.05 skipping 1-D weights (norms, biases) and the relative position bias
tables, 300 epochs, 20 of linear warmup from 1e-6 (the code's 5e-7 at batch 512), then cosine
decay to 1e-5 (5e-6 at 512), gradient norm clipped at 5 (the code's CLIP_GRAD). The
augmentation and regularization of DeiT: RandAugment (9, 0.5), Mixup 0.8, CutMix 1.0 (switch
0.5), random erasing 0.25, label smoothing 0.1, stochastic depth 0.2 / 0.3 / 0.5 for Swin-T / S /
B; no EMA and no repeated augmentation ("which do not enhance performance"). This is ConvNeXt's
recipe (recipes/convnext.py) at Swin's rate, batch, clipping and stochastic depth, without EMA.

    keras-backbones train --recipe recipes/swin.py:swin_tiny_patch4_window7_224 --recipe.data.path=/data/imagenet

The argument is the model. The paper trains Swin-L on ImageNet-22K only; from scratch on
ImageNet-1K it gets Swin-B's stochastic depth here.
"""

import os

from keras_backbones.training import recipe

DROP_PATH = {"swin_tiny_patch4_window7_224": 0.2, "swin_small_patch4_window7_224": 0.3,
             "swin_base_patch4_window7_224": 0.5, "swin_large_patch4_window7_224": 0.5}


def get_config(arg="swin_tiny_patch4_window7_224"):
    config = recipe.load(os.path.join(os.path.dirname(__file__), "convnext.py"))
    config.model.name = arg
    config.model.kwargs.drop_path_rate = DROP_PATH.get(arg, 0.2)
    config.optimizer.update(learning_rate=1e-3, reference_batch_size=1024, clipnorm=5.0)
    config.schedule.update(warmup_epochs=20, warmup_start=1e-6 / 1e-3, min_learning_rate=1e-5)
    config.ema.decay = 0.0
    config.epochs = 300
    config.batch_size = 1024
    return config
