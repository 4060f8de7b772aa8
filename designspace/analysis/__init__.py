"""Analysis of a population of trained models.

Small functional API, DataFrames in and out. Every function takes a DataFrame and names the error
column `value` (default "error"); the unit is the model: aggregate repeated trials first with
`model_table(read_population(sources))`.
    read_population, model_table, pooled_std  trials of stores/tables -> one row per model
    choose_bins, common_range                shared complexity bins with >= k models per space and bin
    proxy_fidelity, rank_correlation         rank agreement of a cheap and an expensive budget
    edf, edf_values, normalized_weights      error EDFs, plain and complexity-normalized
    bootstrap_edf, edf_bands, bootstrap_statistics   bootstrap bands for EDF curves and error statistics
    ks_test, ks_pairs, rank_spaces           two-sample KS tests and the ranking table of spaces
    fit_regnet, model_efit                   e_fit: distance of per-block widths from a RegNet
    design_parameters, error_trends, best_model_trends, complexity_fits, best_range   trends
    best_of_m, search_efficiency             random-search efficiency
    done_trials                              the rows an analysis uses (status == "done")
    analyze, AnalysisResult, Settings        the full analysis (every table, figure's data and note) as one result
"""
from __future__ import annotations

import pandas as pd

from .edf import (
    choose_bins,
    common_range,
    complexity_bins,
    edf,
    edf_values,
    error_grid,
    group_weights,
    normalized_weights,
)
from .efit import THRESHOLDS, block_widths, fit_regnet, model_efit, stage_arrays
from .fidelity import match_models, proxy_fidelity, rank_correlation, top_k_overlap
from .full import analyze
from .population import model_table, pooled_std, read_population, read_table
from .result import AnalysisResult, Settings
from .search import best_of_m, search_efficiency
from .stats import bootstrap_edf, bootstrap_statistics, edf_bands, ks_pairs, ks_test, rank_spaces
from .trends import (
    PARAMETERS,
    best_complexity_fits,
    best_model_bands,
    best_model_trends,
    best_range,
    best_ranges,
    complexity_fits,
    design_parameters,
    error_trend,
    error_trends,
    flops_bins,
    linear_fit,
)


def done_trials(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of finished trials with a finite error: what every analysis uses."""
    ok = (df["status"] == "done") & pd.to_numeric(df["error"], errors="coerce").notna()
    return df[ok].reset_index(drop=True)


__all__ = ["edf", "edf_values", "error_grid", "normalized_weights", "complexity_bins", "bootstrap_edf",
           "bootstrap_statistics", "ks_test", "ks_pairs", "rank_spaces", "fit_regnet", "model_efit",
           "block_widths", "stage_arrays", "design_parameters", "error_trend", "error_trends", "best_ranges",
           "best_model_trends", "complexity_fits", "best_range", "linear_fit", "best_of_m", "search_efficiency",
           "done_trials", "PARAMETERS", "choose_bins", "common_range", "group_weights", "THRESHOLDS",
           "match_models", "proxy_fidelity", "rank_correlation", "top_k_overlap",
           "model_table", "pooled_std", "read_population", "read_table", "best_complexity_fits",
           "best_model_bands", "flops_bins", "edf_bands", "analyze", "AnalysisResult", "Settings"]
