"""ViT trained on ImageNet-1k alone — Touvron, Cord, Douze, Massa, Sablayrolles & Jégou,
"Training data-efficient image transformers & distillation through attention" (DeiT), ICML
2021 (table 9, and the official facebookresearch/deit main.py defaults), without distillation.

AdamW (betas 0.9, 0.999, eps 1e-8), learning rate 5e-4 x batch / 512, batch 1024, weight decay
0.05 skipping 1-D weights (norms, biases) and pos_embed / cls_token (timm's optimizer factory,
which DeiT uses), 300 epochs, 5 of linear warmup from 1e-6, then cosine decay to 1e-5;
RandAugment (9, 0.5), Mixup 0.8, CutMix 1.0 (switch 0.5), random erasing 0.25, label smoothing
0.1, stochastic depth 0.1, no dropout; EMA of the weights 0.99996 (the code's default; the
paper's section 5.4 finds it worth 0.1 point). These are ConvNeXt's settings (recipes/convnext.py,
which copied DeiT's) at DeiT's rate, batch and warmup.

Not here: repeated augmentation (each image 3 times per batch, a third of the data per epoch:
Hoffer et al. 2020; the data pipeline does not do it), and DeiT's distillation token.

    keras-backbones train --recipe recipes/vit.py:vit_base_patch16_224 --recipe.data.path=/data/imagenet

The argument is the model: DeiT-Ti, -S and -B are vit_tiny_patch16_224, vit_small_patch16_224
and vit_base_patch16_224.
"""

import os

from keras_backbones.training import recipe


def get_config(arg="vit_tiny_patch16_224"):
    config = recipe.load(os.path.join(os.path.dirname(__file__), "convnext.py"))
    config.model.name = arg
    config.model.kwargs.drop_path_rate = 0.1
    config.optimizer.update(learning_rate=5e-4, reference_batch_size=512)
    # DeiT's warmup starts at 1e-6 (absolute): the peak is 1e-3 at batch 1024.
    config.schedule.update(warmup_epochs=5, warmup_start=1e-6 / 1e-3, min_learning_rate=1e-5)
    config.ema.decay = 0.99996
    config.epochs = 300
    config.batch_size = 1024
    return config
