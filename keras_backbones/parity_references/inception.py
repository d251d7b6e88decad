"""The Inception references that torchvision and timm do not publish (torch only: this module
runs in the reference child process of `keras_backbones.parity`).

- BN-Inception as Cadene/pretrained-models.pytorch `bninception` (a port of the authors'
  Caffe model), with its module names (conv1_7x7_s2, inception_3a_double_3x3_1, ..._bn,
  last_linear) so that its state dict is the checkpoint format the Keras port imports.
  Convolutions keep their biases, BatchNorm eps 1e-5; max pools round up (ceil_mode), the
  stride-1 average pools count their zero padding, module 5b pools by max. Cadene's ReLUs are
  in place, so the tensors it passes on as `*_bn_out` are the rectified ones: every unit is
  conv -> BatchNorm -> ReLU. Cadene ends with AvgPool2d(7), global average pooling at
  224x224 only; this one pools globally at every size.
"""

import torch
import torch.nn.functional as F
from torch import nn

# Cadene's channel numbers: name, #1x1, #3x3 reduce, #3x3, #double 3x3 reduce, #double 3x3,
# pool kind, #pool projection (0: the pool is passed through, in the stride-2 modules).
BN_INCEPTION = [
    ("3a", 64, 64, 64, 64, 96, "avg", 32),
    ("3b", 64, 64, 96, 64, 96, "avg", 64),
    ("3c", 0, 128, 160, 64, 96, "max", 0),
    ("4a", 224, 64, 96, 96, 128, "avg", 128),
    ("4b", 192, 96, 128, 96, 128, "avg", 128),
    ("4c", 160, 128, 160, 128, 160, "avg", 128),
    ("4d", 96, 128, 192, 160, 192, "avg", 128),
    ("4e", 0, 128, 192, 192, 256, "max", 0),
    ("5a", 352, 192, 320, 160, 224, "avg", 128),
    ("5b", 352, 192, 320, 192, 224, "max", 128),
]


class BNInception(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self._unit("conv1_7x7_s2", 3, 64, 7, stride=2)
        self.pool1_3x3_s2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self._unit("conv2_3x3_reduce", 64, 64, 1)
        self._unit("conv2_3x3", 64, 192, 3)
        self.pool2_3x3_s2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        channels = 192
        for name, c1x1, r3, c3, rd, cd, pool, proj in BN_INCEPTION:
            p, stride = f"inception_{name}", 1 if c1x1 else 2
            if c1x1:
                self._unit(f"{p}_1x1", channels, c1x1, 1)
            self._unit(f"{p}_3x3_reduce", channels, r3, 1)
            self._unit(f"{p}_3x3", r3, c3, 3, stride=stride)
            self._unit(f"{p}_double_3x3_reduce", channels, rd, 1)
            self._unit(f"{p}_double_3x3_1", rd, cd, 3)
            self._unit(f"{p}_double_3x3_2", cd, cd, 3, stride=stride)
            if stride == 2:
                setattr(self, f"{p}_pool", nn.MaxPool2d(3, stride=2, ceil_mode=True))
            elif pool == "max":
                setattr(self, f"{p}_pool", nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True))
            else:
                setattr(self, f"{p}_pool", nn.AvgPool2d(3, stride=1, padding=1, ceil_mode=True,
                                                        count_include_pad=True))
            if proj:
                self._unit(f"{p}_pool_proj", channels, proj, 1)
            channels = c1x1 + c3 + cd + (proj or channels)
        self.last_linear = nn.Linear(channels, num_classes)

    def _unit(self, name, cin, cout, kernel, stride=1):
        setattr(self, name, nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2))
        setattr(self, f"{name}_bn", nn.BatchNorm2d(cout, eps=1e-5, momentum=0.9))

    def _run(self, name, x):
        return F.relu(getattr(self, f"{name}_bn")(getattr(self, name)(x)))

    def features(self, x):
        x = self.pool1_3x3_s2(self._run("conv1_7x7_s2", x))
        x = self._run("conv2_3x3", self._run("conv2_3x3_reduce", x))
        x = self.pool2_3x3_s2(x)
        for name, c1x1, *_, proj in BN_INCEPTION:
            p = f"inception_{name}"
            outputs = [self._run(f"{p}_1x1", x)] if c1x1 else []
            outputs.append(self._run(f"{p}_3x3", self._run(f"{p}_3x3_reduce", x)))
            double = self._run(f"{p}_double_3x3_reduce", x)
            outputs.append(self._run(f"{p}_double_3x3_2", self._run(f"{p}_double_3x3_1", double)))
            pooled = getattr(self, f"{p}_pool")(x)
            outputs.append(self._run(f"{p}_pool_proj", pooled) if proj else pooled)
            x = torch.cat(outputs, 1)
        return x

    def forward(self, x):
        return self.last_linear(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


def build(source, name, options):
    if (source, name) == ("Cadene/pretrained-models.pytorch", "bninception") and not options:
        return BNInception()
    return None
