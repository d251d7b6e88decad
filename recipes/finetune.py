"""Fine-tuning (transfer learning): a published ImageNet checkpoint trained on your data.
The schedule of linear probing then fine-tuning (Kumar et al. 2022, "Fine-Tuning can Distort
Pretrained Features and Underperform Out-of-Distribution"), with the layer-wise rate decay of
BEiT (Bao et al. 2021) and of ConvNeXt's and MAE's fine-tuning.

    keras-backbones train --recipe recipes/finetune.py:resnet18 --workdir runs/finetune
    keras-backbones train --recipe recipes/finetune.py:convnext_atto \\
        --recipe.data.source=folder --recipe.data.path=/data/flowers \\
        --recipe.data.image_size=224 --workdir runs/flowers

1. model.weights="imagenet": the variant's default published checkpoint (any of
   `keras-backbones weights NAME`, "SOURCE:TAG", a URL or a weights file also work), built
   with the data's classes: everything loads but the 1000-class classifier, which starts from
   its initialization.
2. finetune.head_epochs=2: the head alone (the layers after the last stage: the new
   classifier) trains first, the backbone frozen with its BatchNorm in inference mode, so
   the gradients of a random classifier do not reach the pretrained features (Kumar et al.'s
   LP-FT: a linear probe, then fine-tuning).
3. The rest of the epochs train the whole network with layer-wise rate decay 0.7: a layer d
   stages below the classifier trains at 0.7^d x the rate (ResNet-18's stem at 0.7^5 = 17%).
   0.7 is ConvNeXt's fine-tuning of its ImageNet-1k checkpoints (TRAINING.md of
   facebookresearch/ConvNeXt; 0.8 from ImageNet-22k); MAE uses 0.65 for ViT-B and 0.75 for
   ViT-L/H, over 12 and 24 blocks (this package counts a CNN's stages and a ViT's blocks:
   `keras_backbones.training.optimizers.layer_depths`).

The optimizer is MAE's fine-tuning setting (He et al. 2021, FINETUNE.md of
facebookresearch/mae): AdamW at its base rate 5e-4 (MAE's rate per 256 images, used here as
is: a short run on a small dataset needs its steps more than the linear scaling rule to a
batch of 32; --recipe.optimizer.reference_batch_size=256 scales it), weight decay 0.05 on all
but 1-D weights, and label smoothing 0.1. The rate is below from-scratch AdamW training
(ConvNeXt's 4e-3, DeiT's 1e-3 at 1024 images), and layer decay puts ResNet-18's stages at
0.17-0.7 x it. The schedule is a cosine without warmup over a short run (ConvNeXt's
fine-tuning: 30 epochs, no warmup), 10 epochs here, enough for a small dataset; batch 32 as
the digits main job. MAE's Mixup, CutMix, RandAugment and drop path are left out: they pay
off over long runs on large data. These are the literature's numbers, not tuned here (the
tests train from random-init checkpoint files, whose accuracy says nothing about transfer).

The data: scikit-learn's digits by default (8x8 grey images, shown to an RGB network at 32x32,
the smallest input most families take; the pipeline repeats the grey channel and normalizes
with the variant's mean and std). Another dataset: --recipe.data.source and path
(keras_backbones.data.sources) and --recipe.data.image_size (0: the variant's size, 224 for
most). The argument names the variant (default resnet18, whose torchvision checkpoint
PyTorch's transfer-learning tutorial starts from).
"""

from keras_backbones.training.recipe import defaults


def get_config(arg="resnet18"):
    config = defaults()
    config.model.name = arg
    config.model.weights = "imagenet"
    config.data.update(source="digits", image_size=32, cache=True)
    config.augment.label_smoothing = 0.1
    config.optimizer.update(name="adamw", learning_rate=5e-4, weight_decay=0.05,
                            decay_norms_and_biases=False, layer_decay=0.7)
    config.schedule.update(name="cosine")
    config.finetune.head_epochs = 2
    config.epochs = 10
    config.batch_size = 32
    config.eval_batch_size = 450
    return config
