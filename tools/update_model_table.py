"""Rewrites docs/models.json, the parameter, FLOP and activation counts of every registered
variant that the documentation site's model pages show (keras_backbones/docs.py).

`python tools/update_model_table.py` after adding a family or variant or changing a builder:
the counts come from `registry.model_stats` (each model built once at its default size, then
cached in ~/.cache/keras_backbones), which takes minutes for the whole zoo, too long for every
build of the site. tests/test_registry.py fails while a variant is missing or its parameter
count differs from the reference's.
"""

import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
TABLE = ROOT / "docs" / "models.json"


def main():
    sys.path.insert(0, str(ROOT))
    from keras_backbones import registry

    names = registry.list_models()
    stats = registry.model_stats(names)
    TABLE.write_text(json.dumps({name: stats[name] for name in names}, indent=1) + "\n")
    print(f"{TABLE.relative_to(ROOT)}: {len(names)} variants.")


if __name__ == "__main__":
    main()
