"""The documentation site: the pages generated from the code, and its strict build.

The site is MkDocs with the Material theme (`mkdocs.yml`, `docs/`). The guides under `docs/`
are written by hand; every page that states a fact the code knows is generated here at build
time (by `docs/gen_pages.py`, through the mkdocs-gen-files plugin), so it cannot go stale:

- `models/index.md`: every variant in one sortable table.
- `models/<family>.md`: a family's paper, references, variants (parameters, GFLOPs, activations,
  input size, published checkpoints and their top-1, parity status, measured TFLite latency),
  the builder module's docstring and its constructors' (mkdocstrings), and the recipes that
  train it.
- `reference/cli.md`: each command's own `--help`.
- `reference/api/*.md`: the public Python API, from its docstrings (mkdocstrings).

Sources: the registry; `docs/models.json` for parameter, FLOP and activation counts
(building the whole zoo to count it takes minutes: `tools/update_model_table.py` writes it,
tests/test_registry.py checks it against the reference counts);
`keras_backbones/pretrained/checkpoints.json`; the parity tests' cases (tests/parity);
benchmarks/RESULTS.md's TFLite table; recipes/*.py.

    keras-backbones docs [--site-dir site] [--serve]

builds it strictly (a broken link, an unresolvable API reference or any other warning fails).
It needs a checkout of the repository (the guides are not in the installed package) and the
`docs` extra (pip install -e ".[docs]").
"""

import ast
import contextlib
import dataclasses
import functools
import importlib
import inspect
import io
import json
import logging
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODEL_TABLE = ROOT / "docs" / "models.json"
BENCHMARK_RESULTS = ROOT / "benchmarks" / "RESULTS.md"
RECIPES = ROOT / "recipes"
PARITY_TESTS = ROOT / "tests" / "parity"
ARXIV = "https://arxiv.org/abs/{}"
# Repository files that are pages of the site as they are: {site path: repository path}.
COPIED_PAGES = {
    "architecture.md": "ARCHITECTURE.md",
    "benchmarks/results.md": "benchmarks/RESULTS.md",
    "benchmarks/activations.md": "benchmarks/ACTIVATIONS.md",
    "guides/recipes.md": "recipes/README.md",
}
# Files those pages show (bytes, copied as they are).
COPIED_FILES = {"benchmarks/activations.png": "benchmarks/activations.png"}

# The public Python API by page: {page: (title, modules)}. A module's public names are its
# __all__, else the functions and classes it defines without a leading underscore; the
# package's own names are those `import keras_backbones` gives.
API_PAGES = {
    "keras_backbones": ("keras_backbones: models by name", ("keras_backbones",)),
    "weights": ("Weights files and checkpoints", ("keras_backbones.weights",)),
    "pretrained": ("Published checkpoints", ("keras_backbones.pretrained",
                                             "keras_backbones.pretrained.table")),
    "data": ("Data: sources, pipeline, preprocessing", ("keras_backbones.data",
                                                        "keras_backbones.data.preprocessing")),
    "augment": ("Data: augmentation", ("keras_backbones.data.augment",
                                       "keras_backbones.data.autoaugment")),
    "training": ("Training", ("keras_backbones.training.loop", "keras_backbones.training.strategy",
                              "keras_backbones.training.optimizers",
                              "keras_backbones.training.mixing", "keras_backbones.training.tta")),
    "recipe": ("Training recipes", ("keras_backbones.training.recipe",)),
    "export": ("Export", ("keras_backbones.export.savedmodel", "keras_backbones.export.tflite",
                          "keras_backbones.export.artifacts", "keras_backbones.export.deployable",
                          "keras_backbones.export.optimize")),
}
# `import keras_backbones`'s functions (the constructors are on the model pages).
PACKAGE_FUNCTIONS = ("create_model", "list_models", "model_info", "fuse", "predict", "load_image",
                     "preprocess_input", "decode_predictions")


# --- what the code knows ------------------------------------------------------------------

def slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@functools.lru_cache(maxsize=None)
def families():
    """{family: [variant names in registration order]}, families in the order of their papers."""
    from keras_backbones import registry

    out = {}
    for name in registry.list_models():
        out.setdefault(registry.get_spec(name).family, []).append(name)
    return dict(sorted(out.items(), key=lambda item: registry.get_spec(item[1][0]).paper.year))


@functools.lru_cache(maxsize=None)
def model_counts():
    """{variant: {"params", "macs", "activations"}} from docs/models.json; an error names what
    is missing."""
    from keras_backbones import registry

    counts = json.loads(MODEL_TABLE.read_text())
    missing = sorted(set(registry.list_models()) - set(counts))
    if missing:
        raise ValueError(f"{MODEL_TABLE.relative_to(ROOT)} lacks {', '.join(missing)}: run "
                         "python tools/update_model_table.py")
    return counts


@functools.lru_cache(maxsize=None)
def parity_status():
    """{variant: "CI" | "extended"}: the variants the parity tests compare with their
    reference, read from the CASES of tests/parity (an `extended(...)` case runs outside CI)."""
    status = {}
    for path in sorted(PARITY_TESTS.glob("test_parity*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "CASES" for t in node.targets)):
                continue
            for case in getattr(node.value, "elts", ()):
                extended = isinstance(case, ast.Call)
                first = case.args[0] if extended else case
                name = first.elts[0] if isinstance(first, ast.Tuple) else first
                if isinstance(name, ast.Constant) and isinstance(name.value, str):
                    if status.get(name.value) != "CI":
                        status[name.value] = "extended" if extended else "CI"
    return status


@functools.lru_cache(maxsize=None)
def tflite_latency():
    """{variant: (float32 ms, int8 ms)} from benchmarks/RESULTS.md's TFLite table."""
    text = BENCHMARK_RESULTS.read_text() if BENCHMARK_RESULTS.exists() else ""
    section = text.partition("## TFLite")[2].partition("\n## ")[0]
    out = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) > 3 and re.fullmatch(r"[\d.]+", cells[1]) and re.fullmatch(r"[\d.]+",
                                                                                  cells[2]):
            out[cells[0]] = (float(cells[1]), float(cells[2]))
    return out


@dataclasses.dataclass(frozen=True)
class Recipe:
    path: str      # recipes/resnet.py
    model: str     # the variant it trains
    summary: str   # its docstring
    settings: str  # its configuration, as YAML


@functools.lru_cache(maxsize=None)
def recipes():
    """Every recipe file's default configuration."""
    from keras_backbones.training import recipe as recipe_lib

    out = []
    for path in sorted(RECIPES.glob("*.py")):
        config = recipe_lib.load(str(path))
        summary = ast.get_docstring(ast.parse(path.read_text())) or ""
        out.append(Recipe(f"recipes/{path.name}", config.model.name, summary, config.to_yaml()))
    return out


# --- pages ----------------------------------------------------------------------------------

def _cell(value):
    return str(value).replace("|", "\\|")


def _paper_link(paper):
    return f"[{paper.title}]({ARXIV.format(paper.arxiv)})" if paper.arxiv else paper.title


def _reference(spec):
    source, name = spec.reference
    return f"{source} `{name}`" if source in ("torchvision", "timm") else f"{source}: {name}"


def _checkpoint_cells(name):
    """(how many published checkpoints, the default one's published top-1)."""
    from keras_backbones.pretrained import table

    found = table.checkpoints(name)
    if not found:
        return "—", "—"
    default = next((c for c in found if c.default), found[0])
    return str(len(found)), f"{default.top1:.2f}" if default.top1 is not None else "?"


def variant_rows(names, *, family_column=True):
    """One markdown row per variant: the columns of variant_columns."""
    from keras_backbones import registry

    counts, parity, latency = model_counts(), parity_status(), tflite_latency()
    rows = []
    for name in names:
        spec = registry.get_spec(name)
        size = spec.preprocessing.input_size
        checkpoints, top1 = _checkpoint_cells(name)
        float_ms, int8_ms = latency.get(name, ("", ""))
        cells = [f"`{name}`", f"[{spec.family}]({slug(spec.family)}.md)", _reference(spec),
                 f"{counts[name]['params']:,}", f"{2 * counts[name]['macs'] / 1e9:.3g}",
                 f"{counts[name]['activations'] / 1e6:.3g}", f"{size[0]}x{size[1]}",
                 checkpoints, top1, parity.get(name, "—"),
                 f"{float_ms} / {int8_ms}" if int8_ms else "—"]
        if not family_column:
            del cells[1]
        rows.append("| " + " | ".join(_cell(value) for value in cells) + " |")
    return rows


def variants_table(names, *, family_column=True):
    columns = ["variant", "family", "reference", "params", "GFLOPs", "acts (M)", "input",
               "checkpoints", "top-1 (%)", "parity", "TFLite ms fp32 / int8"]
    align = ["---"] * len(columns)
    align[3:6] = ["---:"] * 3
    if not family_column:
        del columns[1], align[1]
    return "\n".join(["| " + " | ".join(columns) + " |", "|" + "|".join(align) + "|",
                      *variant_rows(names, family_column=family_column)])


def checkpoints_table(names):
    """Every published checkpoint of `names`: what weights= takes, its accuracy, its license."""
    from keras_backbones.pretrained import table

    rows = [(name, c) for name in names for c in table.checkpoints(name)]
    if not rows:
        return ""
    lines = ["| variant | `weights=` | top-1 (%) | top-5 (%) | evaluated at | license |",
             "|---|---|---:|---:|---|---|"]
    for name, c in rows:
        lines.append("| " + " | ".join(_cell(value) for value in (
            f"`{name}`", f"`{c.name}`" + (" (`imagenet`)" if c.default else ""),
            c.top1 if c.top1 is not None else "—", c.top5 if c.top5 is not None else "—",
            f"{c.eval_size or c.input_size[0]} px", c.license)) + " |")
    return "\n".join(lines)


MODELS_INTRO = """\
---
hide:
  - toc
---

# Every variant

{count} variants in {families} families. Click a column's header to sort by it.

- **params**: trainable weights (PyTorch's `parameters()`), equal to the reference's count for
  every variant (or, where there is no code reference, within 0.5% of the paper's figure).
- **GFLOPs**: 2 x the multiply-accumulates of the convolutions, dense layers and attention
  matmuls at the default input size (the **input** column), as torchvision and fvcore count.
- **acts (M)**: activations as the RegNet paper (Radosavovic et al. 2020) defines them, the
  elements of every convolution's, dense layer's and attention matmul's output for one image
  at the default input size, in millions, counted as its code (pycls) counts the "acts" it
  publishes; they track memory traffic, which can govern speed on GPUs and TPUs more than
  FLOPs do.
- **checkpoints**, **top-1**: how many published ImageNet checkpoints `weights=` loads (each
  family's page lists them), and the top-1 accuracy its source publishes for the default one,
  `weights="imagenet"` ([Pretrained weights](../guides/pretrained.md)).
- **parity**: `CI` where the tests compare the variant's logits with its reference
  implementation's on every run, `extended` where they compare them outside CI (a larger
  variant of blocks a smaller one checks in CI), `—` where the variant itself is not compared:
  its family's checked variants share its blocks, or it has no code reference
  ([Verification](../verification.md)).
- **TFLite ms**: batch-1 latency in LiteRT with XNNPACK on 2 threads, float32 and full int8,
  where [the benchmarks](../guides/benchmarks.md) measured it.
"""


def models_index_page():
    names = [name for members in families().values() for name in members]
    return (MODELS_INTRO.format(count=len(names), families=len(families()))
            + "\n" + variants_table(names) + "\n")


def _constructors(members):
    from keras_backbones import registry

    return list(dict.fromkeys(registry.get_spec(name).builder for name in members))


def family_page(family):
    from keras_backbones import registry

    members = families()[family]
    specs = [registry.get_spec(name) for name in members]
    papers = list(dict.fromkeys(spec.paper for spec in specs))
    modules = list(dict.fromkeys(spec.builder.__module__ for spec in specs))
    lines = [f"# {family}", ""]
    lines += [f"**Paper{'s' if len(papers) > 1 else ''}:** "
              + "; ".join(f"{_paper_link(p)} ({p.year})" for p in papers), ""]
    lines += ["**References:** " + "; ".join(
        dict.fromkeys(f"`{spec.name}`: {_reference(spec)}" for spec in specs)), ""]
    lines += ["## Variants", "", variants_table(members, family_column=False), ""]
    published = checkpoints_table(members)
    lines += ["## Published checkpoints", "",
              published or "None: " + _without_checkpoints(members), ""]
    for recipe in (r for r in recipes() if r.model in members):
        lines += [f"## Recipe: `{recipe.path}`", "", _indent_free(recipe.summary), "",
                  f'??? note "{recipe.path}: every setting"', "",
                  "    ```yaml", *("    " + line for line in recipe.settings.splitlines()),
                  "    ```", ""]
    for module in modules:
        lines += [f"## `{module}`", "", f"::: {module}", "    options:",
                  "      show_root_heading: false", "      show_root_toc_entry: false",
                  "      members: false", ""]
    lines += ["## Constructors", ""]
    for builder in _constructors(members):
        lines += _constructor_section(builder)
    return "\n".join(lines)


def _constructor_section(builder):
    """A constructor's signature and docstring. Rendered here, not by mkdocstrings: a
    registered constructor's docstring is written at registration, from its family's
    template, and mkdocstrings reads docstrings from the source."""
    signature = str(inspect.signature(builder))
    return [f"### `{builder.__name__}`", "", "```python",
            f"keras_backbones.{builder.__name__}{signature}", "```", "",
            inspect.getdoc(builder) or "", ""]


def _without_checkpoints(members):
    from keras_backbones.pretrained import table

    why = table.without_checkpoints()
    return "; ".join(dict.fromkeys(f"`{name}`: {why[name]}" for name in members if name in why))


def _indent_free(text):
    """A docstring as markdown: its indented lines (commands, aligned lists) become
    preformatted blocks, as they read in the source."""
    out, block = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("    ") and line.strip():
            block.append(line[4:])
            continue
        if block:
            out += ["```text", *block, "```"]
            block = []
        out.append(line)
    return "\n".join(out).rstrip()


def cli_page():
    from keras_backbones import cli

    parser = cli.build_parser()
    lines = ["# Command line", "",
             "Every command's `--help`, as `keras-backbones COMMAND --help` prints it. The "
             "guides show them at work.", "", "```text", parser.format_help().rstrip(), "```", ""]
    for name, sub in parser.commands.choices.items():
        lines += [f"## {name}", "", "```text", sub.format_help().rstrip(), "```", ""]
    return "\n".join(lines)


def public_names(module_name):
    """A module's public API: its __all__, else the functions and classes it defines whose
    names do not start with an underscore."""
    module = importlib.import_module(module_name)
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [name for name, value in vars(module).items()
            if not name.startswith("_") and (inspect.isfunction(value) or inspect.isclass(value))
            and getattr(value, "__module__", None) == module_name]


def api_targets(module):
    """The dotted paths mkdocstrings documents for `module`'s public names (where each is
    defined: the package's names load on first use from their own modules)."""
    if module == "keras_backbones":
        package = importlib.import_module(module)
        return [f"{getattr(package, n).__module__}.{n}" for n in PACKAGE_FUNCTIONS]
    return [f"{module}.{name}" for name in public_names(module)]


def api_page(key):
    title, modules = API_PAGES[key]
    lines = [f"# {title}", ""]
    for module in modules:
        if len(modules) > 1:
            lines += [f"## `{module}`", ""]
        if module != "keras_backbones":
            lines += [f"::: {module}", "    options:", "      show_root_heading: false",
                      "      show_root_toc_entry: false", "      members: false", ""]
        level = 3 if len(modules) > 1 else 2
        for target in api_targets(module):
            lines += [f"::: {target}", "    options:", f"      heading_level: {level}", ""]
    return "\n".join(lines)


def pages():
    """{path under docs/: markdown, or the bytes of a copied file} of every generated page."""
    out = {"models/index.md": models_index_page(), "reference/cli.md": cli_page()}
    for family in families():
        out[f"models/{slug(family)}.md"] = family_page(family)
    for key in API_PAGES:
        out[f"reference/api/{key}.md"] = api_page(key)
    for path, source in COPIED_PAGES.items():
        out[path] = (ROOT / source).read_text()
    for path, source in COPIED_FILES.items():
        out[path] = (ROOT / source).read_bytes()
    out["SUMMARY.md"] = summary()
    return out


def summary():
    """The site's navigation (literate-nav's SUMMARY.md): docs/nav.md, written by hand, with
    its `* [Models](models/)` and `* [Reference](reference/)` lines expanded into the
    generated pages."""
    expanded = {
        "* [Models](models/)": ["* Models", "    * [Every variant](models/index.md)",
                                *(f"    * [{family}](models/{slug(family)}.md)"
                                  for family in families())],
        "* [Reference](reference/)": ["* Reference", "    * [Command line](reference/cli.md)",
                                      *(f"    * [{API_PAGES[key][0]}](reference/api/{key}.md)"
                                        for key in API_PAGES)],
    }
    lines = []
    for line in (ROOT / "docs" / "nav.md").read_text().splitlines():
        lines += expanded.get(line.strip(), [line])
    return "\n".join(lines) + "\n"


# --- building --------------------------------------------------------------------------------

class _Warnings(logging.Handler):
    """Collects what MkDocs and its plugins log at WARNING and above during a build."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage().strip())


def _config(site_dir, strict):
    try:
        from mkdocs import config as mkdocs_config
    except ImportError:
        raise ValueError("building the site needs the docs extra: "
                         "pip install -e '.[docs]'") from None
    if not (ROOT / "mkdocs.yml").exists():
        raise ValueError(f"no mkdocs.yml in {ROOT}: the site builds from a checkout of the "
                         "repository, not from an installed package.")
    return mkdocs_config.load_config(str(ROOT / "mkdocs.yml"), site_dir=str(site_dir),
                                     strict=strict)


def build(site_dir, *, strict=True):
    """Builds the site into `site_dir`. With strict (the default), a warning (a broken link, an
    API reference that does not resolve, a page left out of the navigation) fails the build:
    a ValueError that lists the warnings."""
    from mkdocs import exceptions
    from mkdocs.commands import build as mkdocs_build

    config = _config(site_dir, strict)
    warnings = _Warnings()
    logger = logging.getLogger("mkdocs")
    logger.addHandler(warnings)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            mkdocs_build.build(config)
    except exceptions.MkDocsException as error:
        listed = "\n".join(f"  {message}" for message in warnings.messages)
        raise ValueError(f"the site did not build ({error}):\n{listed}") from None
    finally:
        logger.removeHandler(warnings)
    return pathlib.Path(site_dir)


def serve(address):
    """Serves the site at `address` (host:port), rebuilding it as its sources change."""
    from mkdocs.commands import serve as mkdocs_serve

    _config("site", True)  # the same checks as build
    mkdocs_serve.serve(config_file=str(ROOT / "mkdocs.yml"), dev_addr=address, strict=True)
