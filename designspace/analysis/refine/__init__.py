"""Propose the next refinement of a design space from a trained population of it.

The paper designs spaces by adding one constraint at a time (shared b, shared g, growing widths...)
and keeping it when the refined space's error EDF improves. `refine(df)` automates the search for
that constraint: every candidate is a constraint text in the space language (`b == 1`,
`wm >= 2.31`, `w1 <= w2 <= w3 <= w4`), evaluated with designspace.spaces.expr over the columns of
designspace.spaces.columns, so a candidate means here what it means in a space file.

Unit of analysis: models. Repeated trials of one model are averaged first (population.model_table),
so a model trained three times counts once.

Candidates (those that keep every model or none are not refinements and are left out):
- value:     each discrete free parameter (at most `max_levels` distinct values) fixed to each value;
- part:      each continuous free parameter restricted to its lower / upper third and half, cut at the
             population's quantiles (inverted-EDF quantiles, i.e. observed values, rounded to 3
             significant digits for non-integers);
- structure: shared b, shared g, non-decreasing widths, non-decreasing depths (across stages), and
             e_fit (designspace.analysis.efit) in its lower third / half;
- try:       the user's constraints (`tries`).

Statistics of a candidate, on errors in percentage points, comparing the models it keeps against
the rest of the population (negative shift = the refined space has lower errors); plain EDFs, not
complexity-normalized (the population shares one flops band):
- n_kept, share_kept: the models it keeps and their share of the population, an estimate of the
  share of the space (inside the band) that the refinement keeps;
- mean_shift = mean(kept) - mean(rest); q25_shift = q25(kept) - q25(rest), q25 the inverted-EDF lower
  quartile (smallest error e with EDF(e) >= 0.25);
- *_lo, *_hi: percentile bootstrap interval at `level`. Each of `n_boot` replicates redraws the
  population's N models with replacement (designspace.stats.resample, seed `seed`); one set of replicates serves all
  candidates, and a candidate's kept / rest groups in a replicate are the redrawn models that do / do
  not satisfy it (so the kept count varies between replicates as it would between populations).
  Means come from the replicates' model counts; q25s are drawn from their exact distribution given
  each replicate's group sizes (`_replicate_quantiles`), which is the same bootstrap, computed faster;
- ks_statistic, ks_pvalue: two-sample Kolmogorov-Smirnov test, kept against rest (scipy ks_2samp;
  exact p-value where n_kept * n_rest <= KS_EXACT_MAX, asymptotic above);
- p_adjusted: ks_pvalue corrected over every tested candidate, Holm's step-down method (controls
  the family-wise error rate: under a null population the chance that any candidate is flagged is
  at most alpha) or Benjamini-Hochberg (`correction="bh"`, scipy false_discovery_control; controls
  the expected share of false discoveries among the flagged).

Rule: a candidate *improves* the space when mean_shift_hi < 0 (the whole interval of the mean shift
lies below zero) AND p_adjusted < alpha. Ranking: tested candidates that improve first, then the
other tested ones, each by mean_shift_hi (the most surely large improvement first), then mean_shift;
skipped candidates last (rank NA). A candidate is skipped, with a warning, when it keeps fewer than
`min_models` models or leaves fewer than `min_models` outside.

Modules: population (the models refined), constraints (the candidates tried), shifts (their
statistics), ranking (the ranked table and `refine`), outputs (the best refinement, its space file,
the figure).
"""
from .constraints import Candidate, candidates, free_columns
from .outputs import best_refinement, plot_refinements, refined_definition
from .population import Population, prepare
from .ranking import rank_candidates, refine
from .shifts import CORRECTIONS, adjust_pvalues, bootstrap_shifts, shift_statistics

__all__ = ["CORRECTIONS", "Candidate", "Population", "adjust_pvalues", "best_refinement", "bootstrap_shifts",
           "candidates", "free_columns", "plot_refinements", "prepare", "rank_candidates", "refine",
           "refined_definition", "shift_statistics"]
