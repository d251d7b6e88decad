"""The mobile families' hand-written reference (torch only: runs in the parity child process).

ECA-MobileNetV2 (BangguWu/ECANet, models/eca_mobilenetv2.py): torchvision's MobileNetV2 at
width 1 (stem ConvBNReLU6 32, the inverted residual table, head ConvBNReLU6 1280, dropout and a
linear classifier), with an ECA layer closing each block's `conv` Sequential after the
projection's BatchNorm: global average pool, a bias-free Conv1d across the channels with kernel
1 below 96 output channels and 3 from there on (padding (k - 1) // 2), sigmoid gate. Module
names follow the official code: features.i.conv.j, the ECA layer's convolution `.conv`.

MobileNetV3's options `dilated` and `reduced_tail` are torchvision's own builder arguments.
"""

import torch
from torch import nn


class ECALayer(nn.Module):
    def __init__(self, kernel_size):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, kernel_size, padding=(kernel_size - 1) // 2, bias=False)

    def forward(self, x):
        y = x.mean(dim=(2, 3))[:, None, :]  # (N, 1, C): the channels are the sequence
        return x * torch.sigmoid(self.conv(y))[:, 0, :, None, None]


def conv_bn_relu6(inputs, outputs, kernel_size=3, stride=1, groups=1):
    return nn.Sequential(
        nn.Conv2d(inputs, outputs, kernel_size, stride, (kernel_size - 1) // 2, groups=groups,
                  bias=False),
        nn.BatchNorm2d(outputs), nn.ReLU6())


class ECAInvertedResidual(nn.Module):
    def __init__(self, inputs, outputs, stride, expansion, kernel_size):
        super().__init__()
        hidden = round(inputs * expansion)
        self.residual = stride == 1 and inputs == outputs
        layers = [conv_bn_relu6(inputs, hidden, 1)] if expansion != 1 else []
        layers += [conv_bn_relu6(hidden, hidden, stride=stride, groups=hidden),
                   nn.Conv2d(hidden, outputs, 1, bias=False), nn.BatchNorm2d(outputs),
                   ECALayer(kernel_size)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.residual else self.conv(x)


class ECAMobileNetV2(nn.Module):
    SETTING = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
               (6, 160, 3, 2), (6, 320, 1, 1)]

    def __init__(self, num_classes=1000):
        super().__init__()
        features = [conv_bn_relu6(3, 32, stride=2)]
        channels = 32
        for t, c, n, s in self.SETTING:
            for i in range(n):
                features.append(ECAInvertedResidual(channels, c, s if i == 0 else 1, t,
                                                    1 if c < 96 else 3))
                channels = c
        features.append(conv_bn_relu6(channels, 1280, 1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.25), nn.Linear(1280, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x).mean(dim=(2, 3)))


TORCHVISION_V3_OPTIONS = {"dilated", "reduced_tail"}


def build(source, name, options):
    if source == "official:BangguWu/ECANet" and name == "eca_mobilenet_v2" and not options:
        return ECAMobileNetV2()
    if (source == "torchvision" and name.startswith("mobilenet_v3_") and options
            and set(options) <= TORCHVISION_V3_OPTIONS):
        import torchvision

        return torchvision.models.get_model(name, weights=None, **options)
    return None
