"""The one statistics core: intervals (exact where they exist), their decision p-values, multiplicity
control, power by resampling and alpha spending for sequential looks. Analysis, refine, proxy
fidelity, calibration and claims all take their statistics from here.

    intervals      Interval (an estimate with its interval at any level), order-statistic and
                   Bonett-Price intervals for quantiles and medians, Welch, OLS, bootstrap percentile
                   intervals with their Monte-Carlo error; the quantile definitions; describe_interval,
                   the one wording of an interval method
    resample       the bootstrap resampler (index matrices: seeded, chunked, paired or stratified) and
                   percentile bounds of its replicates
    rank           Spearman and Kendall rank correlations, their Fisher-z intervals and their bootstrap
    ks             the two-sample Kolmogorov-Smirnov test and distance, and the distance's
                   Kolmogorov-band interval (schema 3)
    best_of        the expected best of m: its unbiased U-statistic and jackknife t interval (schema 3)
    decisions      verdict rules on an interval, the p-value of a rule, multiplicity adjustment
    spending       alpha spending across pre-declared looks (Lan-DeMets)
"""
