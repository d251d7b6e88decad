"""Swin Transformer references for the parity check (torch only).

{"at_input_size": True}: timm's swin_* at 224 (its state dict is the 224 one) that runs each
input at the input's size the way timm runs a 224 checkpoint at another size:
`set_input_size(img_size, window_size=7)`, i.e. the windows of timm's constructor rule (a stage
map smaller than the window is one unshifted window) and the relative position tables
resampled to them by resize_rel_pos_bias_table, as `create_model(..., pretrained=True,
img_size=...)` does on loading. The tables are drawn from N(0, 1), not timm's N(0, 0.02): at
that init the bias moves the attention logits by ~0.02, too little for the check to see a
wrong index or resampling."""

import copy


def build(source, name, options):
    if source != "timm" or not name.startswith("swin") or options != {"at_input_size": True}:
        return None
    import timm
    import torch

    model = timm.create_model(name, pretrained=False)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for param_name, param in model.named_parameters():
            if param_name.endswith("relative_position_bias_table"):
                param.copy_(torch.randn(param.shape, generator=generator))
    window = model.layers[0].blocks[0].attn.window_size  # the configured one: stage 1 is 56x56

    def forward_at_input_size(images):
        resized = copy.deepcopy(model)
        resized.set_input_size(img_size=tuple(images.shape[-2:]), window_size=window)
        return type(resized).forward(resized, images)

    model.forward = forward_at_input_size
    return model
