"""The registry of scoring rules (perfsim.core.rules.RULES): the scheme's rule names and
allowed fields and the engine's scoring come from it, so a new rule is one register()
call plus its tests."""

from __future__ import annotations

import subprocess
import sys
import typing

import numpy as np
import pytest

from perfsim.core import rules
from perfsim.core.scheme import DATA_SCALED, RULE_FIELDS, TARGET_RULES, Node, Rule

from ..conftest import MINI, MINI_SCHEME, ROOT


def test_the_scheme_derives_its_rules_from_the_registry():
    assert typing.get_args(Rule) == tuple(rules.RULES)
    assert RULE_FIELDS == rules.rule_fields()
    assert DATA_SCALED == tuple(n for n, s in rules.RULES.items() if s.kind == "scaled")
    assert TARGET_RULES == ("ratio", "band", "binary")


def test_register_refuses_a_duplicate_and_an_unknown_kind():
    with pytest.raises(ValueError, match="registered already"):
        rules.register("ratio", "target", {"indicator": {"indicator"}}, lambda *a: None)
    with pytest.raises(ValueError, match="kind 'magic'"):
        rules.register("magic_rule", "magic", {"indicator": {"indicator"}}, lambda *a: None)
    assert "magic_rule" not in rules.RULES


@pytest.mark.parametrize("name", list(rules.RULES))
def test_every_rule_scores_through_its_entry(name):
    """Each entry gives the function the rule is documented to be (hand cases)."""
    spec = rules.RULES[name]
    x, t, g = np.array([50.0, 100.0, 150.0]), np.array([100.0, 100.0, 100.0]), np.zeros(3, dtype=np.int64)
    node = Node.model_validate({"rule": name, "source": next(iter(spec.fields)),
                                **({"indicator": "I1"} if "indicator" in spec.fields else {}),
                                **({"lo": 0, "hi": 200} if name == "goalpost" else {}),
                                **({"floor": 0.0} if name == "band" else {}),
                                **({"target": 150} if name == "dist_target" else {}),
                                **({"field": "staff"} if next(iter(spec.fields)) == "units" else {})})
    got = np.asarray(spec.score(node, x, t, False, g), dtype=float)
    expected = {"ratio": [0.5, 1.0, 1.0], "band": [0.5, 1.0, 1.0], "binary": [0.0, 1.0, 1.0],
                "goalpost": [0.25, 0.5, 0.75], "minmax": [0.0, 0.5, 1.0], "rank": None, "zscore": None,
                "percentile": None, "dist_frontier": [0.0, 0.5, 1.0], "dist_target": [0.0, 0.5, 1.0],
                "rating": [0.5, 1.0, 1.5]}[name]
    if expected is None:                      # rank-like rules: order only
        assert np.all(np.diff(got) > 0), (name, got)
    else:
        assert got == pytest.approx(expected), (name, got)


def test_a_new_rule_is_one_register_call(tmp_path):
    """Registered before the scheme is imported, a new rule is accepted by a scheme file with
    exactly its fields, refused with another, and scored by the engine: nothing else changes."""
    scheme = MINI_SCHEME.read_text(encoding="utf-8").replace(
        "I2: {rule: ratio, cap: 1.0, weight: 1}", "I2: {rule: square_ratio, weight: 1}")
    (tmp_path / "s.yaml").write_text(scheme, encoding="utf-8")
    (tmp_path / "bad.yaml").write_text(scheme.replace("{rule: square_ratio, weight: 1}",
                                                      "{rule: square_ratio, cap: 2, weight: 1}"), encoding="utf-8")
    code = f"""
import numpy as np
from perfsim.core import rules
rules.register("square_ratio", "target", {{"indicator": {{"indicator", "direction"}}}},
               lambda n, x, t, lower, g: np.clip(x / t, 0, 1) ** 2)
import perfsim
data = perfsim.load_dataset({str(MINI)!r})
s = perfsim.load_scenario({str(tmp_path / 's.yaml')!r})
d = perfsim.score_detail(s, data)
print(sorted(d.node_scores["tree.targets.social.I2"].round(6).items())[:2])
try:
    perfsim.load_scenario({str(tmp_path / 'bad.yaml')!r})
except perfsim.PerfsimError as exc:
    print("refused:", exc)
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "not used by rule square_ratio" in proc.stdout, proc.stdout
    assert "[(" in proc.stdout
