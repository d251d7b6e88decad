"""Numerical parity with the reference implementations (`pytest -m parity`; the parity extra).

Each case builds the reference at random init with randomized norm statistics in a child
process, imports its checkpoint through `create_model(name, weights=...)` and compares eval
logits at the default size (and at a non-square size: see CASES): max |diff| <= 1e-4 *
max(1, max |ref|).
Cases: the smallest variant of every family with a code reference, the larger ones whose
blocks differ, and every option that changes the graph; the larger variants marked
`support.extended` (same blocks, more of them) run with `-m parity` or `-m extended`, not in
the default run.
"""

import pytest

from keras_backbones import parity
from tests import support

pytestmark = support.PARITY_MARKS

# (variant, options, also at the non-square size): the smallest variant of each family at both
# sizes, and at the default size every graph option and the larger variants whose blocks
# differ (bottlenecks); at both sizes too where the option changes what odd sizes do (the
# strided identity of shortcut A, v1's strided 1x1). support.extended: beyond CI's budget.
CASES = [
    ("alexnet", {}, True),
    ("vgg11", {}, True), ("vgg11_bn", {}, False), ("vgg16", {}, False),
    ("resnet18", {}, True), ("resnet50", {}, False),
    ("resnet50", {"variant": "v1"}, True),
    ("resnet18", {"shortcut": "A"}, True), ("resnet50", {"shortcut": "A"}, False),
    ("resnet18", {"shortcut": "C"}, False),
    ("resnet18", {"norm": "group"}, False),
    ("wide_resnet50_2", {}, False),
    ("resnext50_32x4d", {}, False),
    ("seresnet18", {}, False), ("seresnet50", {}, False),
    support.extended(("seresnext50_32x4d", {}, False)),
    ("senet154", {}, False),  # deep stem, half-width first 1x1, 3x3 projection shortcuts
    ("eca_resnet18", {}, False), ("eca_resnet50", {}, False),
    ("cbam_resnet18", {}, True), ("cbam_resnet50", {}, False),
    ("resnetv2_18", {}, True), ("resnetv2_50", {}, False),
]


@pytest.mark.parametrize("case", CASES, ids=support.parity_case_id)
def test_logits_equal_the_reference(case):
    support.assert_parity(*case)


def test_the_check_tells_graphs_apart():
    """A v1.5 ResNet-50 loads a v1 reference checkpoint (same shapes) but computes another
    function: the parity check must see it."""
    [result] = parity.compare("resnet50", options={}, reference_options={"variant": "v1"})
    assert not result.ok and result.max_abs_diff > 100 * result.tolerance


FAILING_REFERENCES = '''
import os


def build(source, name, options):
    if options.get("fail") == "raise":
        raise ValueError("this reference cannot be built")
    if options.get("fail") == "exit":
        os._exit(3)
    return None
'''


def test_a_failing_reference_is_reported_and_the_next_case_runs(tmp_path):
    """The reference side runs in a child process kept between cases (parity.ReferenceProcess):
    an error there, or the child's death, fails that case with what happened; the next case
    gets a working child."""
    references = tmp_path / "failing_references.py"
    references.write_text(FAILING_REFERENCES)
    with pytest.raises(RuntimeError, match="(?s)resnet18 failed.*this reference cannot be built"):
        parity.compare("resnet18", reference_options={"fail": "raise"}, references=references)
    with pytest.raises(RuntimeError, match=r"resnet18 failed: the process ended \(exit 3\)"):
        parity.compare("resnet18", reference_options={"fail": "exit"}, references=references)
    [result] = parity.compare("resnet18", references=references)
    assert result.ok
