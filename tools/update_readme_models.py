"""Rewrites README.md's model table (between its `<!-- models -->` markers) from the registry.

`python tools/update_readme_models.py` after adding a family or variant; parameter and FLOP
counts come from `registry.model_stats` (each model built once at its default size, then
cached in ~/.cache/keras_backbones). tests/test_registry.py fails while a variant is missing.
"""

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- models -->", "<!-- /models -->"


def render():
    from keras_backbones import registry

    families = {}
    for name in registry.list_models():
        families.setdefault(registry.get_spec(name).family, []).append(name)
    # Families in the order of their papers, variants in the order their module registers them.
    order = sorted(families, key=lambda f: registry.get_spec(families[f][0]).paper.year)
    names = [name for family in order for name in families[family]]
    stats = registry.model_stats(names)
    rows = ["| family | paper | variant | reference | params | GFLOPs |",
            "|---|---|---|---|---:|---:|"]
    last_family = None
    for name in names:
        spec = registry.get_spec(name)
        first = spec.family != last_family
        last_family = spec.family
        source, reference = spec.reference
        reference = (f"{source} `{reference}`" if source in ("torchvision", "timm")
                     else f"{source}: {reference}")
        paper = f"{spec.paper.title} ({spec.paper.year})"
        rows.append(f"| {spec.family if first else ''} | {paper if first else ''} | `{name}` | "
                    f"{reference} | {stats[name]['params']:,} | "
                    f"{2 * stats[name]['macs'] / 1e9:.3g} |")
    return "\n".join(rows)


def main():
    sys.path.insert(0, str(ROOT))
    readme = ROOT / "README.md"
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        sys.exit(f"README.md has no {BEGIN} ... {END} markers around its model table.")
    table = render()
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    readme.write_text(pattern.sub(lambda _: f"{BEGIN}\n{table}\n{END}", text))
    print(f"README.md: {table.count(chr(10)) - 1} variants.")


if __name__ == "__main__":
    main()
