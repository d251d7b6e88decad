"""RegNet — Radosavovic, Kosaraju, Girshick, He & Dollár, "Designing Network Design Spaces",
CVPR 2020 (section 5, "Comparison to Existing Networks": the 100-epoch training of the final
models), with the numbers of the authors' pycls code where the paper leaves them out
(pycls/core/config.py and configs/dds_baselines/regnet*/*.yaml); RegNetX-200MF on ImageNet-1k
by default, any RegNet by argument.

SGD with Nesterov momentum 0.9 (pycls's default), learning rate 0.1 per 128 images scaled
linearly with the batch (0.8 at the batch of 1024 on 8 GPUs; pycls trains its larger models at
smaller batches with the same rate per image), 5 epochs of linear warmup from 0.1 x the rate,
then a half-period cosine to 0 over 100 epochs; weight decay 5e-5 on every weight (norms and
biases too, as pycls); Inception's random resized crops (8%..100% of the area) and flips; no
dropout, label smoothing or EMA. pycls starts the last norm of each block at gamma 1, so the
recipe turns off the builder's (timm's) zero_init_last. Not reproduced: pycls's PCA lighting
noise (alphastd 0.1), and its evaluation at a 256 resize (the registry's crop is timm's).

    keras-backbones train --recipe recipes/regnet.py:regnety_016 --recipe.data.path=/data/imagenet
"""

from keras_backbones.training.recipe import INCEPTION_CROP, defaults, imagenet


def get_config(arg="regnetx_002"):
    config = imagenet(defaults())
    config.model.name = arg
    config.model.kwargs.zero_init_last = False
    config.augment.update(INCEPTION_CROP)
    config.optimizer.update(name="sgd", learning_rate=0.1, reference_batch_size=128,
                            momentum=0.9, nesterov=True, weight_decay=5e-5,
                            decay_norms_and_biases=True)
    config.schedule.update(name="cosine", warmup_epochs=5, warmup_start=0.1,
                           min_learning_rate=0.0)
    config.epochs = 100
    config.batch_size = 1024
    return config
