"""ViT's reference for the parity check: timm's model by name, built with
dynamic_img_size=True so that it takes inputs other than 224x224 (the position embedding
resized bicubically on the fly; at 224x224 the model is unchanged)."""


def build(source, name, options):
    if source != "timm" or not name.startswith("vit_"):
        return None
    import timm

    return timm.create_model(name, pretrained=False, dynamic_img_size=True, **options)
