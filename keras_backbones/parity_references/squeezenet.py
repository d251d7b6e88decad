"""SqueezeNet with the paper's bypass connections (section 6, figure 2) on torchvision's
network (torch only: runs in the parity child process). No code reference publishes them; the
simple bypass follows the authors' SqueezeNet-Residual prototxt (the Fire module's input added
to its concatenated output, no activation after), the complex bypass adds a biased 1x1
convolution (`features.N.bypass`) of the input around the modules that widen."""

from torch import nn
from torchvision.models import squeezenet as tv


class BypassFire(tv.Fire):
    def __init__(self, fire, mode):
        super().__init__(fire.inplanes, fire.squeeze.out_channels, fire.expand1x1.out_channels,
                         fire.expand3x3.out_channels)
        out_channels = fire.expand1x1.out_channels + fire.expand3x3.out_channels
        widens = fire.inplanes != out_channels
        complex_ = mode == "complex" and widens
        self.bypass = nn.Conv2d(fire.inplanes, out_channels, 1) if complex_ else None
        self.identity = not widens

    def forward(self, x):
        y = super().forward(x)
        if self.bypass is not None:
            return y + self.bypass(x)
        return y + x if self.identity else y


def build(source, name, options):
    if source != "torchvision" or not name.startswith("squeezenet") or set(options) != {"bypass"}:
        return None
    model = tv.SqueezeNet(version=name.removeprefix("squeezenet"))
    if options["bypass"]:
        for i, module in enumerate(model.features):
            if isinstance(module, tv.Fire):
                model.features[i] = BypassFire(module, options["bypass"])
    return model
