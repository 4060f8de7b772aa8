"""The one statistics core: intervals (exact where they exist), their decision p-values, multiplicity
control, power by resampling and alpha spending for sequential looks. Analysis, refine, proxy
fidelity, calibration and claims all take their statistics from here.

    intervals      Interval (an estimate with its interval at any level), order-statistic and
                   Bonett-Price intervals for quantiles and medians, Welch, Fisher-z, OLS, bootstrap
                   percentile intervals with their Monte-Carlo error
    decisions      verdict rules on an interval, the p-value of a rule, multiplicity adjustment
    spending       alpha spending across pre-declared looks (Lan-DeMets)
"""
