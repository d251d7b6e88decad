"""The guides stay true: every ```python and ```bash block of the hand-written pages (docs/)
runs here, a page's blocks in order in one fresh process (Python blocks share one namespace,
as in a notebook; bash blocks run with `set -euo pipefail`), in an empty directory with the
repository's recipes/. A block that cannot run on a test machine (it downloads weights, needs
ImageNet, a GPU cluster, Docker) is preceded by `<!-- not run: why -->`, and says why."""

import os
import pathlib
import re
import subprocess
import sys
import textwrap

import pytest

from tests.support import ROOT

DOCS = ROOT / "docs"
FENCE = re.compile(r"^```(\w*)\s*$")
NOT_RUN = re.compile(r"^<!-- not run: (.*?) -->$")


def blocks(path):
    """[(line, language, code, why not run or None)] of a page's fenced code blocks."""
    lines = path.read_text().splitlines()
    found, index = [], 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
        marker = NOT_RUN.match(lines[index - 1]) if index else None
        found.append((index + 1, opening.group(1), "\n".join(lines[index + 1:end]),
                      marker.group(1) if marker else None))
        index = end + 1
    return found


PAGES = sorted(p for p in DOCS.rglob("*.md"))
RUNNABLE = [p for p in PAGES if any(lang in ("python", "bash") and why is None
                                    for _, lang, _, why in blocks(p))]

DRIVER = textwrap.dedent("""
    import json, subprocess, sys
    namespace = {"__name__": "__guide__"}
    for line, language, code in json.load(open(sys.argv[1])):
        print(f"--- {sys.argv[2]}:{line} ({language})", flush=True)
        if language == "python":
            exec(compile(code, f"{sys.argv[2]}:{line}", "exec"), namespace)
        else:
            subprocess.run(["bash", "-euo", "pipefail", "-c", code], check=True)
""")


def test_every_not_run_marker_says_why_and_precedes_a_block():
    for page in PAGES:
        lines = page.read_text().splitlines()
        for number, line in enumerate(lines):
            if line.startswith("<!-- not run"):
                marker = NOT_RUN.match(line)
                assert marker and marker.group(1).strip(), f"{page}:{number + 1}: says no why"
                assert number + 1 < len(lines) and FENCE.match(lines[number + 1]), \
                    f"{page}:{number + 1}: not followed by a code block"
    assert RUNNABLE, "no guide has a block that runs"


@pytest.mark.parametrize("page", RUNNABLE, ids=lambda p: str(p.relative_to(DOCS)))
def test_the_guides_code_runs(page, tmp_path):
    import json

    runnable = [(line, language, code) for line, language, code, why in blocks(page)
                if language in ("python", "bash") and why is None]
    (tmp_path / "blocks.json").write_text(json.dumps(runnable))
    (tmp_path / "driver.py").write_text(DRIVER)
    (tmp_path / "recipes").symlink_to(ROOT / "recipes")
    env = {key: value for key, value in os.environ.items()
           if key not in ("TF_CONFIG", "KERAS_BACKBONES_MIRROR", "PYTHONPATH")}
    # `python` and `keras-backbones` of this environment first, as in an activated venv
    env.update(TF_CPP_MIN_LOG_LEVEL="3",
               PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    done = subprocess.run([sys.executable, "driver.py", "blocks.json",
                           str(page.relative_to(ROOT))], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
