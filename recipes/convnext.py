"""ConvNeXt — Liu, Mao, Wu, Feichtenhofer, Darrell & Xie, "A ConvNet for the 2020s", CVPR 2022
(appendix A.1, table 5: ImageNet-1k training settings), the modern recipe that the later
families (Swin, ViT, EfficientNetV2, MobileNetV4, ...) start from.

AdamW (betas 0.9, 0.999), learning rate 4e-3 at batch 4096 (scaled linearly with the batch),
weight decay 0.05 skipping 1-D weights (norms, biases, layer scales: timm's optimizer factory,
which the official code uses) and position embeddings, 300 epochs, 20 of linear warmup from 0,
then cosine decay to 1e-6; RandAugment (9, 0.5), Mixup 0.8, CutMix 1.0 (switch 0.5), random
erasing 0.25, label smoothing 0.1, stochastic depth 0.1/0.4/0.5/0.5 (T/S/B/L), layer scale
1e-6 (a builder option), EMA 0.9999 of the weights.

    keras-backbones train --recipe recipes/convnext.py:convnext_tiny --recipe.data.path=/data/imagenet

The argument is the model; its stochastic depth comes from the paper's table. A later family
reuses the recipe and changes what its paper changes:

    import os
    from keras_backbones.training import recipe

    def get_config(arg="swin_tiny_patch4_window7_224"):
        config = recipe.load(os.path.join(os.path.dirname(__file__), "convnext.py"))
        config.model.name = arg
        config.model.kwargs.drop_path_rate = 0.2
        return config
"""

from keras_backbones.training.recipe import defaults, imagenet

# Stochastic depth of each ConvNeXt variant, table 5 (ImageNet-1k training). The paper trains
# XL on ImageNet-22k only (0.2 there), and timm trained its atto..nano with its own recipes
# (published per model for none of them): those take T's 0.1.
DROP_PATH = {"convnext_tiny": 0.1, "convnext_small": 0.4, "convnext_base": 0.5,
             "convnext_large": 0.5}


def get_config(arg="convnext_tiny"):
    config = imagenet(defaults())
    config.model.name = arg
    config.model.kwargs.drop_path_rate = DROP_PATH.get(arg, 0.1)
    config.augment.update(
        crop_scale=(0.08, 1.0), crop_ratio=(3 / 4, 4 / 3), flip=True,
        randaugment={"num_layers": 2, "magnitude": 9.0, "magnitude_std": 0.5},  # rand-m9-mstd0.5
        mixup_alpha=0.8, cutmix_alpha=1.0, mix_prob=1.0, switch_prob=0.5,
        random_erasing=0.25, label_smoothing=0.1)
    config.optimizer.update(name="adamw", learning_rate=4e-3, reference_batch_size=4096,
                            beta_1=0.9, beta_2=0.999, epsilon=1e-8, weight_decay=0.05,
                            decay_norms_and_biases=False,
                            no_decay_names=("pos_embed", "cls_token", "relative_position"))
    config.schedule.update(name="cosine", warmup_epochs=20, warmup_start=0.0,
                           min_learning_rate=1e-6)
    config.ema.decay = 0.9999
    config.epochs = 300
    config.batch_size = 4096
    return config
