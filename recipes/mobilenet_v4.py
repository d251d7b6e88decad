"""MobileNetV4 — Qin, Leichner, Delakis, Fornoni, Luo, Yang, Wang, Banbury, Ye, Akin, Aggarwal,
Zhu, Moro & Howard, "MobileNetV4: Universal Models for the Mobile Ecosystem", ECCV 2024, as
trained by the authors' TensorFlow Model Garden configurations
(official/vision/configs/experiments/image_classification/imagenet_mobilenetv4_*_tpu.yaml);
any of the five variants on ImageNet-1k, MobileNetV4-Conv-S (`mobilenetv4_conv_small`) by
default.

All five: AdamW (decoupled decay, w -= lr x wd x w, as Model Garden's AdamWeightDecay; not on
BatchNorm, nor here on biases), a linear warmup over 1,560 steps, then cosine decay; label smoothing 0.1,
RandAugment without Cutout, dropout before the classifier, Inception crops and flips, at the
variant's own input size. Per variant (the configs' global batch; the rate scales linearly
with the batch here, the warmup is the configs' 1,560 steps in epochs):

    variant         size  batch  rate   wd    epochs  warmup  dropout  drop path  RandAug  Mixup/CutMix
    conv_small      224   4096   0.002  0.01  9,600   5       0.3      -          m9       -
    conv_medium     256   4096   0.004  0.1   500     5       0.2      0.075      m15      -
    conv_large      384   16384  0.004  0.2   500     20      0.2      0.2 flat   m15      0.8/1.0, p 0.2
    hybrid_medium   256   16384  0.016  0.1   500     20      0.2      0.075      m15      -
    hybrid_large    384   16384  0.01   0.2   500     20      0.2      0.35       m15      0.8/1.0, p 0.3

Conv-S also: Adam beta_1 0.6 and epsilon 1e-6, an EMA of the weights (0.9999), and 3,002,368
steps (about 9,600 epochs, for its 73.8%); the others use Model Garden's AdamW defaults (beta_1
0.9, epsilon 1e-7) and no EMA. Hybrid-L's cosine ends at 1e-5 (0.001 of its rate).

Not reproduced: the EMA's start after the warmup (it averages from the first step here),
Conv-S's L2 term of 1e-5 in the loss on top of AdamW's decay (one kind of decay
per recipe here), RandAugment's probability of applying each op (0.5 for Conv-S, 0.7 for the
mediums) and magnitudes above 10 (timm's 0..10 scale here: m15 trains at 10), Conv-L's flat
drop-path rate (the rate here rises linearly with depth to the value above, as timm), the
BatchNorm momentum and epsilon (0.997 and 1e-3; Conv-S 0.95 and 1e-6: the models keep timm's),
bfloat16 (all but Conv-S), and the paper's distillation (section 7).

    keras-backbones train --recipe recipes/mobilenet_v4.py:mobilenetv4_conv_medium --recipe.data.path=/data/imagenet
"""

from keras_backbones.training.recipe import (IMAGENET_TRAIN_EXAMPLES, INCEPTION_CROP, defaults,
                                             imagenet)

WARMUP_STEPS = 1560
MAX_MAGNITUDE = 10.0  # timm's RandAugment scale, which the pipeline uses

# model: (size, batch, rate, weight decay, steps, dropout, drop path, RandAugment magnitude,
# Mixup/CutMix probability (Mixup alpha 0.8, CutMix alpha 1.0; 0: off))
VARIANTS = {
    "mobilenetv4_conv_small": (224, 4096, 0.002, 0.01, 3_002_368, 0.3, 0.0, 9, 0.0),
    "mobilenetv4_conv_medium": (256, 4096, 0.004, 0.1, 156_000, 0.2, 0.075, 15, 0.0),
    "mobilenetv4_conv_large": (384, 16384, 0.004, 0.2, 39_000, 0.2, 0.2, 15, 0.2),
    "mobilenetv4_hybrid_medium": (256, 16384, 0.016, 0.1, 39_000, 0.2, 0.075, 15, 0.0),
    "mobilenetv4_hybrid_large": (384, 16384, 0.01, 0.2, 39_000, 0.2, 0.35, 15, 0.3),
}


def get_config(arg="mobilenetv4_conv_small"):
    if arg not in VARIANTS:
        raise ValueError(f"recipes/mobilenet_v4.py: the argument is one of "
                         f"{', '.join(VARIANTS)}; got {arg!r}.")
    size, batch, rate, decay, steps, dropout, drop_path, magnitude, mix_prob = VARIANTS[arg]
    steps_per_epoch = IMAGENET_TRAIN_EXAMPLES // batch  # the configs' steps_per_loop
    config = imagenet(defaults())
    config.model.name = arg
    config.model.kwargs.update(dropout_rate=dropout, drop_path_rate=drop_path)
    config.data.image_size = size
    config.augment.update(INCEPTION_CROP, label_smoothing=0.1)
    config.augment.randaugment = {"num_layers": 2, "magnitude": min(float(magnitude), MAX_MAGNITUDE),
                                  "magnitude_std": 0.0}
    if mix_prob:
        config.augment.update(mixup_alpha=0.8, cutmix_alpha=1.0, mix_prob=mix_prob,
                              switch_prob=0.5)
    config.optimizer.update(name="adamw", learning_rate=rate, reference_batch_size=batch,
                            weight_decay=decay, decay_norms_and_biases=False, epsilon=1e-7)
    config.schedule.update(name="cosine", warmup_epochs=WARMUP_STEPS / steps_per_epoch,
                           warmup_start=0.0)
    if arg == "mobilenetv4_conv_small":
        config.optimizer.update(beta_1=0.6, epsilon=1e-6)
        config.ema.decay = 0.9999
    if arg == "mobilenetv4_hybrid_large":
        config.schedule.min_learning_rate = 0.001 * rate
    config.epochs = round(steps / steps_per_epoch)
    config.batch_size = batch
    return config
