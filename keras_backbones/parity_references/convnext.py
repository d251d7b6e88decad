"""ConvNeXt references with options (torch only: runs in the parity child process).

timm's `convnext_*` built by name starts every block's layer scale at 1e-6, so at random init
the blocks barely touch the logits and a wrong block would pass the parity check unseen. The
option `layer_scale_init_value` builds the same timm model with `ls_init_value` set (1.0:
every block counts)."""

import timm


def build(source, name, options):
    if source != "timm" or not name.startswith("convnext_") \
            or set(options) != {"layer_scale_init_value"}:
        return None
    return timm.create_model(name, pretrained=False,
                             ls_init_value=options["layer_scale_init_value"])
