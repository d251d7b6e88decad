"""Writes keras_backbones/pretrained/imagenet_classes.json: the 1000 ImageNet-1k classes in the
order every ImageNet-1k classifier's outputs follow (their WordNet ids, sorted), each with its
WordNet id and readable name.

    python tools/imagenet_classes.py    # needs the parity extra (timm, torchvision)

The ids are timm's (`timm/data/_info/imagenet_synsets.txt`), the names torchvision's (the
`categories` of its ImageNet-1k weights: one short name per class, the duplicates of WordNet's
first lemmas told apart: "crane bird" and "crane", "maillot" and "maillot tank suit"). The
script checks that the two lists agree on the order where they overlap (1000 classes each).
"""

import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "keras_backbones" / "pretrained" / "imagenet_classes.json"


def classes():
    """[(wnid, name)] in the classifiers' order."""
    import timm.data
    import torchvision

    synsets = pathlib.Path(timm.data.__file__).parent / "_info" / "imagenet_synsets.txt"
    wnids = synsets.read_text().split()
    names = torchvision.models.ResNet50_Weights.IMAGENET1K_V1.meta["categories"]
    if len(wnids) != 1000 or len(names) != 1000 or wnids != sorted(wnids):
        raise SystemExit(f"Unexpected class lists: {len(wnids)} ids (sorted: "
                         f"{wnids == sorted(wnids)}), {len(names)} names.")
    if len(set(names)) != 1000:
        raise SystemExit("torchvision's names are no longer unique.")
    return list(zip(wnids, names))


def main():
    import timm
    import torchvision

    generated_by = (f"tools/imagenet_classes.py from timm {timm.__version__} (WordNet ids) "
                    f"and torchvision {torchvision.__version__} (names)")
    rows = ",\n".join(f"  {json.dumps(list(pair), ensure_ascii=False)}" for pair in classes())
    OUT.write_text(f'{{"generated_by": {json.dumps(generated_by)},\n "classes": [\n{rows}\n]}}\n',
                   encoding="utf-8")
    print(f"Wrote {OUT.relative_to(ROOT)}: {rows.count(chr(10)) + 1} classes.")


if __name__ == "__main__":
    main()
