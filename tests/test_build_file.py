"""BUILD lists every module of the package and has a py_test for every test file."""

import re

from tests import support
from tools import update_build


def test_build_file_is_in_step_with_the_tree():
    build = (support.ROOT / "BUILD").read_text()
    assert build == update_build.render(), "BUILD is stale: run `python tools/update_build.py`"


def test_build_file_covers_every_module_and_test():
    build = (support.ROOT / "BUILD").read_text()
    listed = set(re.findall(r'"([\w/]+\.py)"', build))
    modules = {p.relative_to(support.ROOT).as_posix()
               for p in (support.ROOT / "keras_backbones").rglob("*.py")}
    tests = {p.relative_to(support.ROOT).as_posix() for p in (support.ROOT / "tests").rglob("test_*.py")}
    assert modules <= listed and tests <= listed
    assert len(re.findall(r"^py_test\(", build, flags=re.M)) == len(tests)
