"""The scheme engine: one dataset + one scheme -> totals, ranks and grades.

Three steps, each a pure function:

1. :func:`leaf_inputs` turns the data of one year into arrays ``x`` (actual or mean
   rating), ``t`` (target) and ``present`` of shape ``(units, leaves)``;
2. :func:`leaf_scores` applies each leaf's scoring rule (:mod:`perfsim.core.rules`);
3. :func:`aggregate_tree` walks the tree bottom-up (weights re-normalised over the
   children present for each unit) and allocates points top-down; then
   :func:`score_arrays` adds the capped bonus and deduction of :func:`adjustments`, ranks
   within category (ties share the best rank) and grades with :func:`grade_index`, which
   applies the veto.

:func:`score` runs them all and returns the result table; :func:`check_fit` is the part
that checks a scheme against a dataset and is also what ``perfsim validate --data`` runs.

The package's modules follow these parts: :mod:`.tree` (the scheme as arrays), :mod:`.year`
(one year of the data), :mod:`.credit` (shared targets), :mod:`.fit` (does a scheme fit the
data), :mod:`.inputs` (step 1, missing-data policy, treatment), :mod:`.raters` (the leader
rating's levers), :mod:`.aggregate` (steps 2 and 3), :mod:`.grading`, :mod:`.missing` (what
was done with each missing actual) and :mod:`.scoring` (the entry points). A new scoring
rule is one entry of :data:`perfsim.core.rules.RULES`, not a change here.
"""

from __future__ import annotations

from .tree import (ABSENT, EXCLUDED, IMPUTED_SCORE, IMPUTED_VALUE, Inputs, NOT_IMPUTABLE, NOT_MISSING, Result, Tree, ZERO)
from .year import YearView, install_year_view, recut_categories, resolve_year, share_credit, year_end_actuals, year_view
from .credit import cascade_gaps, credit_table
from .fit import check_fit
from .inputs import leaf_inputs, peer_factor
from .raters import RANK_FLOOR, leader_panels, rater_levers
from .aggregate import adjustments, aggregate_tree, leaf_scores
from .grading import grade_counts, grade_index
from .missing import (MISSING_COLUMNS, missing_summary, missing_table, treated_table, units_without_data, warn_missing)
from .scoring import (MAX_SHARE, Scored, component_columns, concentration, effective_weights, period_totals, score, score_arrays, score_detail, unit_type, warn_concentration)

__all__ = ["ABSENT", "EXCLUDED", "IMPUTED_SCORE", "IMPUTED_VALUE", "Inputs", "NOT_IMPUTABLE", "NOT_MISSING", "Result", "Tree", "ZERO", "YearView", "install_year_view", "recut_categories", "resolve_year", "year_end_actuals", "year_view", "cascade_gaps", "credit_table", "share_credit", "check_fit", "leaf_inputs", "peer_factor", "RANK_FLOOR", "leader_panels", "rater_levers", "adjustments", "aggregate_tree", "leaf_scores", "grade_counts", "grade_index", "MISSING_COLUMNS", "missing_summary", "missing_table", "treated_table", "units_without_data", "warn_missing", "MAX_SHARE", "Scored", "component_columns", "concentration", "effective_weights", "period_totals", "score", "score_arrays", "score_detail", "unit_type", "warn_concentration"]
