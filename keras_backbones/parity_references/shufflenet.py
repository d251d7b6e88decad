"""ShuffleNetV1 as the official megvii-model/ShuffleNet-Series code (ShuffleNetV1/network.py,
blocks.py), written for the parity check (torch only: runs in the parity child process).

The stem (3x3 stride-2 conv, BN, ReLU; `first_conv`), a 3x3 stride-2 max pool with padding 1,
`features`: one flat Sequential of ShuffleV1Block (4, 8, 4 per stage), each with
`branch_main_1` = [1x1 conv (groups g; 1 in the first unit), BN, ReLU, 3x3 depthwise conv
(stride), BN], the channel shuffle (reshape to (C / g, g), permute, flatten) when g > 1,
`branch_main_2` = [1x1 conv (groups g), BN]; stride 1: ReLU(branch + x); stride 2:
cat(AvgPool2d(3, 2, 1)(x), ReLU(branch)). The classifier is a Linear without bias. One
departure: the official AvgPool2d(7) before the classifier is a global mean here (the same at
224x224, where the last map is 7x7; the non-square parity size would not fit it).
"""

import re

import torch
import torch.nn.functional as F
from torch import nn

SOURCE = "official:megvii-model/ShuffleNet-Series"
STAGE_OUT_CHANNELS = {
    3: {"0.5x": [12, 120, 240, 480], "1.0x": [24, 240, 480, 960], "1.5x": [24, 360, 720, 1440],
        "2.0x": [48, 480, 960, 1920]},
    8: {"0.5x": [16, 192, 384, 768], "1.0x": [24, 384, 768, 1536],
        "1.5x": [24, 576, 1152, 2304], "2.0x": [48, 768, 1536, 3072]},
}


class ShuffleV1Block(nn.Module):
    def __init__(self, inp, oup, *, group, first_group, mid_channels, stride):
        super().__init__()
        self.stride = stride
        self.group = group
        outputs = oup - inp if stride == 2 else oup
        self.branch_main_1 = nn.Sequential(
            nn.Conv2d(inp, mid_channels, 1, 1, 0, groups=1 if first_group else group, bias=False),
            nn.BatchNorm2d(mid_channels), nn.ReLU(inplace=True),
            nn.Conv2d(mid_channels, mid_channels, 3, stride, 1, groups=mid_channels, bias=False),
            nn.BatchNorm2d(mid_channels))
        self.branch_main_2 = nn.Sequential(
            nn.Conv2d(mid_channels, outputs, 1, 1, 0, groups=group, bias=False),
            nn.BatchNorm2d(outputs))
        if stride == 2:
            self.branch_proj = nn.AvgPool2d(kernel_size=3, stride=2, padding=1)

    def channel_shuffle(self, x):
        batch, channels, height, width = x.shape
        x = x.reshape(batch, channels // self.group, self.group, height, width)
        return x.permute(0, 2, 1, 3, 4).reshape(batch, channels, height, width)

    def forward(self, x):
        y = self.branch_main_1(x)
        if self.group > 1:
            y = self.channel_shuffle(y)
        y = self.branch_main_2(y)
        if self.stride == 1:
            return F.relu(y + x)
        return torch.cat((self.branch_proj(x), F.relu(y)), 1)


class ShuffleNetV1(nn.Module):
    def __init__(self, group, model_size, n_class=1000):
        super().__init__()
        stem, *widths = STAGE_OUT_CHANNELS[group][model_size]
        self.first_conv = nn.Sequential(nn.Conv2d(3, stem, 3, 2, 1, bias=False),
                                        nn.BatchNorm2d(stem), nn.ReLU(inplace=True))
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        features, channels = [], stem
        for stage, (repeats, width) in enumerate(zip((4, 8, 4), widths)):
            for i in range(repeats):
                features.append(ShuffleV1Block(channels, width, group=group,
                                               first_group=stage == 0 and i == 0,
                                               mid_channels=width // 4,
                                               stride=2 if i == 0 else 1))
                channels = width
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Linear(channels, n_class, bias=False))

    def forward(self, x):
        x = self.features(self.maxpool(self.first_conv(x)))
        return self.classifier(x.mean(dim=(2, 3)))


def build(source, name, options):
    match = re.fullmatch(r"ShuffleNetV1 group=(\d+) (\d\.\dx)", name)
    if source != SOURCE or not match or options:
        return None
    return ShuffleNetV1(int(match.group(1)), match.group(2))
