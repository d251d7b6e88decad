"""HarDNet as the official PingoLH/Pytorch-HarDNet code (hardnet.py), written for the parity
tests (torch only: runs in the parity child process), with its module names.

ConvLayer: Sequential(conv (padding k // 2, no bias), norm, relu (ReLU6)); DWConvLayer:
Sequential(dwconv (3x3, padding 1, groups C, no bias), norm); CombConvLayer: Sequential(layer1
(1x1 ConvLayer), layer2 (DWConvLayer)). HarDBlock: layer k (1-based) reads the concatenation
of layers k - 2^i for every 2^i dividing k (k - 1 first), with growth x grmul^(links - 1)
channels rounded by int(int(c + 1) / 2) * 2; its output concatenates layers 1, 3, 5, ... and
the last. HarDNet: a flat ModuleList `base`: ConvLayer 3x3/2, ConvLayer (3x3; 1x1 with
depth_wise), MaxPool2d(3, 2, 1) or DWConvLayer/2, per block the HarDBlock, [HarDNet85: Dropout
0.1 after the last], the 1x1 ConvLayer, [MaxPool2d(2, 2) or DWConvLayer/2]; the head
Sequential(AdaptiveAvgPool2d(1), Flatten, Dropout, Linear). No pretrained download.
"""

import torch
from torch import nn

SOURCE = "official:PingoLH/Pytorch-HarDNet"
ARCHS = {  # first_ch, ch_list, grmul, gr, n_layers, downSamp, drop_rate
    39: ([24, 48], [96, 320, 640, 1024], 1.6, [16, 20, 64, 160], [4, 16, 8, 4], [1, 1, 1, 0],
         None),
    68: ([32, 64], [128, 256, 320, 640, 1024], 1.7, [14, 16, 20, 40, 160], [8, 16, 16, 16, 4],
         [1, 0, 1, 1, 0], 0.1),
    85: ([48, 96], [192, 256, 320, 480, 720, 1280], 1.7, [24, 24, 28, 36, 48, 256],
         [8, 16, 16, 16, 16, 4], [1, 0, 1, 0, 1, 0], 0.2),
}
VARIANTS = {"hardnet39ds": (39, True), "hardnet68ds": (68, True), "hardnet68": (68, False),
            "hardnet85": (85, False)}


class ConvLayer(nn.Sequential):
    def __init__(self, in_channels, out_channels, kernel=3, stride=1):
        super().__init__()
        self.add_module("conv", nn.Conv2d(in_channels, out_channels, kernel_size=kernel,
                                          stride=stride, padding=kernel // 2, bias=False))
        self.add_module("norm", nn.BatchNorm2d(out_channels))
        self.add_module("relu", nn.ReLU6(True))


class DWConvLayer(nn.Sequential):
    def __init__(self, channels, stride=1):
        super().__init__()
        self.add_module("dwconv", nn.Conv2d(channels, channels, kernel_size=3, stride=stride,
                                            padding=1, groups=channels, bias=False))
        self.add_module("norm", nn.BatchNorm2d(channels))


class CombConvLayer(nn.Sequential):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.add_module("layer1", ConvLayer(in_channels, out_channels, kernel=1))
        self.add_module("layer2", DWConvLayer(out_channels))


class HarDBlock(nn.Module):
    @staticmethod
    def get_link(layer, base_ch, growth_rate, grmul):
        if layer == 0:
            return base_ch, 0, []
        out_channels = growth_rate
        link = []
        for i in range(10):
            dv = 2 ** i
            if layer % dv == 0:
                link.append(layer - dv)
                if i > 0:
                    out_channels *= grmul
        out_channels = int(int(out_channels + 1) / 2) * 2
        in_channels = sum(HarDBlock.get_link(i, base_ch, growth_rate, grmul)[0] for i in link)
        return out_channels, in_channels, link

    def __init__(self, in_channels, growth_rate, grmul, n_layers, dwconv=False):
        super().__init__()
        self.links = []
        layers = []
        self.out_channels = 0
        for i in range(n_layers):
            outch, inch, link = self.get_link(i + 1, in_channels, growth_rate, grmul)
            self.links.append(link)
            layers.append(CombConvLayer(inch, outch) if dwconv else ConvLayer(inch, outch))
            if i % 2 == 0 or i == n_layers - 1:
                self.out_channels += outch
        self.layers = nn.ModuleList(layers)

    def forward(self, x):
        outputs = [x]
        for layer, link in zip(self.layers, self.links):
            inputs = [outputs[i] for i in link]
            outputs.append(layer(torch.cat(inputs, 1) if len(inputs) > 1 else inputs[0]))
        t = len(outputs)
        return torch.cat([outputs[i] for i in range(t) if i == t - 1 or i % 2 == 1], 1)


class HarDNet(nn.Module):
    def __init__(self, depth_wise=False, arch=85):
        super().__init__()
        first_ch, ch_list, grmul, gr, n_layers, down_samp, drop_rate = ARCHS[arch]
        second_kernel, max_pool = (1, False) if depth_wise else (3, True)
        if depth_wise:
            drop_rate = 0.05
        self.base = nn.ModuleList([ConvLayer(3, first_ch[0], kernel=3, stride=2),
                                   ConvLayer(first_ch[0], first_ch[1], kernel=second_kernel)])
        self.base.append(nn.MaxPool2d(kernel_size=3, stride=2, padding=1) if max_pool
                         else DWConvLayer(first_ch[1], stride=2))
        ch = first_ch[1]
        for i in range(len(n_layers)):
            block = HarDBlock(ch, gr[i], grmul, n_layers[i], dwconv=depth_wise)
            self.base.append(block)
            if i == len(n_layers) - 1 and arch == 85:
                self.base.append(nn.Dropout(0.1))
            self.base.append(ConvLayer(block.out_channels, ch_list[i], kernel=1))
            ch = ch_list[i]
            if down_samp[i]:
                self.base.append(nn.MaxPool2d(kernel_size=2, stride=2) if max_pool
                                 else DWConvLayer(ch, stride=2))
        self.base.append(nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
                                       nn.Dropout(drop_rate), nn.Linear(ch, 1000)))

    def forward(self, x):
        for layer in self.base:
            x = layer(x)
        return x


def build(source, name, options):
    if source != SOURCE or name not in VARIANTS or options:
        return None
    arch, depth_wise = VARIANTS[name]
    return HarDNet(depth_wise=depth_wise, arch=arch)
