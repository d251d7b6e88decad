"""ResNeSt — Zhang, Wu, Zhang, Zhu, Lin, Zhang, Sun, He, Mueller, Manmatha, Li & Smola,
"ResNeSt: Split-Attention Networks", 2020 (section 4.2, "Training Strategy"), with the numbers
timm's model card records for the released models (270 epochs, batch 8192 on 64 V100s, SGD
0.1 with momentum 0.9, weight decay 1e-4, dropout 0.2); ResNeSt-50 on ImageNet-1k by default,
any registered ResNeSt by argument.

Large-batch SGD with momentum 0.9: the rate 0.1 per 256 images scaled linearly with the batch
(the paper's eta = B / 256 x 0.1; 3.2 at 8192), 5 epochs of linear warmup from 0, then a
cosine to 0; weight decay 1e-4 on the convolution and dense kernels only (not on the norms'
scales and shifts nor on biases); label smoothing 0.1; Mixup with alpha 0.2; dropout 0.2 before
the classifier; the last BatchNorm of each block starts at gamma 0 (the builder's default);
Inception's random resized crops and flips at the larger training size of the deeper models
(224 for ResNeSt-50, 256 for -101, 320 for -200, 416 for -269: the registry's input size of each
variant). 270 epochs.

Not reproduced: the paper's "AutoAugment", which in the released code
(zhanghang1989/ResNeSt resnest/torch/transforms: build.py, autoaug.py) is no AutoAugment policy
but Fast AutoAugment's RandAugment(2, 12) (16 operations, each skipped with a probability
drawn from 0.2..0.8), with ColorJitter and PCA lighting: left off rather than replaced by
either of this pipeline's policies; and DropBlock on the last two stages (the builder has no
DropBlock layer).

    keras-backbones train --recipe recipes/resnest.py:resnest101e --recipe.data.path=/data/imagenet
"""

from keras_backbones.training.recipe import INCEPTION_CROP, defaults, imagenet


def get_config(arg="resnest50d"):
    config = imagenet(defaults())
    config.model.name = arg
    config.model.kwargs.dropout_rate = 0.2
    config.augment.update(INCEPTION_CROP)
    config.augment.update(label_smoothing=0.1, mixup_alpha=0.2, mix_prob=1.0)
    config.optimizer.update(name="sgd", learning_rate=0.1, reference_batch_size=256,
                            momentum=0.9, weight_decay=1e-4, decay_norms_and_biases=False)
    config.schedule.update(name="cosine", warmup_epochs=5, warmup_start=0.0,
                           min_learning_rate=0.0)
    config.epochs = 270
    config.batch_size = 8192
    return config
