"""The ResNet family's references that torchvision does not publish, written from their papers'
and official repositories' architecture descriptions (torch only: runs in the parity child
process).

- ECA-ResNet (BangguWu/ECANet): torchvision's ResNet with ECA (global average pool, a 1-D
  convolution of kernel 3 across channels, no bias, sigmoid gate) applied to each block's
  branch after its last BatchNorm, before the addition; module `eca.conv`.
- CBAM-ResNet (Jongchan/attention-module): the same placement of CBAM: a channel gate (an MLP
  C -> C/16 -> C shared by the average- and max-pooled vectors, outputs summed, sigmoid;
  `ChannelGate.mlp.1/.3`), then a spatial gate ([max, mean] over channels -> 7x7 conv without
  bias -> BatchNorm -> sigmoid; `SpatialGate.spatial.conv/.bn`). The official network ends
  with AvgPool2d(7), which equals global average pooling at 224x224 only; this one pools
  globally at every size.
- The ResNet paper's options on torchvision's ResNet: variant="v1" (the stride on the
  bottleneck's first 1x1), shortcut "A" (subsample, then zero channels appended) and "C" (a
  projection in every block), and norm="group" (GroupNorm with 32 groups).
"""

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet as tv

RESNET_LAYERS = {18: (tv.BasicBlock, [2, 2, 2, 2]), 34: (tv.BasicBlock, [3, 4, 6, 3]),
                 50: (tv.Bottleneck, [3, 4, 6, 3]), 101: (tv.Bottleneck, [3, 4, 23, 3])}


class ECALayer(nn.Module):
    def __init__(self, kernel_size=3):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, kernel_size, padding=(kernel_size - 1) // 2, bias=False)

    def forward(self, x):
        y = x.mean(dim=(2, 3))[:, None, :]  # (N, 1, C): the channels are the sequence
        return x * torch.sigmoid(self.conv(y))[:, 0, :, None, None]


class ChannelGate(nn.Module):
    def __init__(self, channels, reduction=16):
        super().__init__()
        self.mlp = nn.Sequential(nn.Flatten(), nn.Linear(channels, channels // reduction),
                                 nn.ReLU(), nn.Linear(channels // reduction, channels))

    def forward(self, x):
        gate = self.mlp(x.mean(dim=(2, 3))) + self.mlp(x.amax(dim=(2, 3)))
        return x * torch.sigmoid(gate)[:, :, None, None]


class SpatialConv(nn.Module):
    def __init__(self, kernel_size=7):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(1, eps=1e-5, momentum=0.01)

    def forward(self, x):
        return self.bn(self.conv(x))


class SpatialGate(nn.Module):
    def __init__(self):
        super().__init__()
        self.spatial = SpatialConv()

    def forward(self, x):
        pooled = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.spatial(pooled))


class CBAM(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.ChannelGate = ChannelGate(channels)
        self.SpatialGate = SpatialGate()

    def forward(self, x):
        return self.SpatialGate(self.ChannelGate(x))


def _attention_block(base, attribute, make):
    """A torchvision block class whose branch output goes through `make(channels)` before
    the residual addition."""
    class Block(base):
        def __init__(self, inplanes, planes, *args, **kwargs):
            super().__init__(inplanes, planes, *args, **kwargs)
            setattr(self, attribute, make(planes * base.expansion))

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            if base is tv.Bottleneck:
                out = self.relu(self.bn2(self.conv2(out)))
                out = self.bn3(self.conv3(out))
            else:
                out = self.bn2(self.conv2(out))
            out = getattr(self, attribute)(out)
            return self.relu(out + identity)
    return Block


class ZeroPadShortcut(nn.Module):
    """Shortcut option A: x[:, :, ::s, ::s] with zero channels appended."""

    def __init__(self, stride, out_channels):
        super().__init__()
        self.stride, self.out_channels = stride, out_channels

    def forward(self, x):
        x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.out_channels - x.shape[1]))


def _blocks(model):
    return [block for stage in (model.layer1, model.layer2, model.layer3, model.layer4)
            for block in stage]


def resnet_with_options(depth, variant="v1.5", shortcut="B", norm="batch"):
    block, layers = RESNET_LAYERS[depth]
    norm_layer = (lambda c: nn.GroupNorm(32, c)) if norm == "group" else None
    model = tv.ResNet(block, layers, norm_layer=norm_layer)
    inplanes = 64
    for b in _blocks(model):
        stride = b.stride
        out_channels = b.conv3.out_channels if block is tv.Bottleneck else b.conv2.out_channels
        if variant == "v1" and block is tv.Bottleneck and stride != 1:
            b.conv1.stride, b.conv2.stride = (stride, stride), (1, 1)
        if shortcut == "A":
            b.downsample = (ZeroPadShortcut(stride, out_channels)
                            if stride != 1 or inplanes != out_channels else None)
        elif shortcut == "C" and b.downsample is None:
            b.downsample = nn.Sequential(nn.Conv2d(inplanes, out_channels, 1, bias=False),
                                         norm_layer(out_channels) if norm_layer
                                         else nn.BatchNorm2d(out_channels))
        inplanes = out_channels
    return model


def build(source, name, options):
    """The reference of the registered variant `name` (with `options`), or None."""
    if source == "official:BangguWu/ECANet" and name.startswith("eca_resnet") and not options:
        depth = int(name.removeprefix("eca_resnet"))
        block, layers = RESNET_LAYERS[depth]
        return tv.ResNet(_attention_block(block, "eca", lambda c: ECALayer(3)), layers)
    if source == "official:Jongchan/attention-module" and not options:
        depth = int(name.split(",")[1])  # "ResidualNet(ImageNet,50,CBAM)"
        block, layers = RESNET_LAYERS[depth]
        return tv.ResNet(_attention_block(block, "cbam", CBAM), layers)
    if source == "torchvision" and name.startswith("resnet") and options:
        return resnet_with_options(int(name.removeprefix("resnet")), **options)
    return None
