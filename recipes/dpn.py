"""DPN — Chen, Li, Xiao, Jin, Yan & Feng, "Dual Path Networks", NIPS 2017 (section 5.1,
"Experiments on image classification task", ImageNet-1k), with the augmentation of the
authors' release (cypw/DPNs README); DPN-92 by default, any registered DPN by argument.

SGD with momentum 0.9 on 40 GPUs at 32 images each (batch 1280), the rate divided by 10 when
the validation accuracy stops improving (the plateau rule of the SGD-era recipes, patience 5;
the paper reduces it "when training accuracy plateaus"), weight decay 1e-4; random mirror and
random crops of 8%..100% of the area at aspect ratios 3/4..4/3 (resized bicubically), mean
[124, 117, 104] subtracted and the result multiplied by 0.0167 (the registry's preprocessing).
The starting rate is 0.1 per 256 images scaled linearly with the batch (0.5 at 1280), as the
ResNe(X)t recipes this repository follows, and 120 epochs: the package has not verified the
paper's figures for either (check them against section 5.1 before a reference run).

Not reproduced: the release's random HSL jitter ([20, 40, 50]; the pipeline has none), and the
mean-max pooling the authors use to test at 320x320 (evaluation here is the model's own global
average pool at 224).

    keras-backbones train --recipe recipes/dpn.py:dpn68 --recipe.data.path=/data/imagenet
"""

from keras_backbones.training.recipe import imagenet_sgd


def get_config(arg="dpn92"):
    config = imagenet_sgd(arg, learning_rate=0.5, batch_size=1280, epochs=120)
    return config
