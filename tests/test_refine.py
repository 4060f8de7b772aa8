"""refine: statistics against brute force, planted refinements found, null populations not flagged,
the CLI's outputs (table, JSON, figure, a space file that samples inside the refinement) and errors."""
import dataclasses
import hashlib
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from designspace.analysis.refine import (
    adjust_pvalues,
    bootstrap_shifts,
    candidates,
    prepare,
    rank_candidates,
    refine,
    shift_statistics,
)
from designspace.analysis.synthetic import synthetic_trials
from designspace.cli import main
from designspace.spaces import get_space
from designspace.table import spec_rows, write_rows

REGIME = "fashion-mnist"
# skipped-candidate warnings are expected on small populations; tests that check them use pytest.warns
pytestmark = pytest.mark.filterwarnings("ignore:refine:UserWarning")


def sampled_rows(space: str, n: int, seed: int = 0) -> list[dict]:
    """Rows as `designspace sample` writes them, for n real specs of `space`."""
    sp = get_space(space)
    draw, cx = sp.sample_arrays(n, seed=seed, regime=REGIME)
    return spec_rows(sp.specs_from(draw), cx, REGIME)


def with_errors(rows, errors) -> pd.DataFrame:
    return pd.DataFrame([{**r, "error": float(e)} for r, e in zip(rows, errors)])


@pytest.fixture(scope="module")
def xb_rows():
    return sampled_rows("AnyNetXB", 600, seed=1)


@pytest.fixture(scope="module")
def planted(xb_rows):
    """AnyNetXB models; b = 1 lowers the error by 3 points, nothing else matters."""
    b = np.array([r["bottleneck_ratios"][0] for r in xb_rows])
    rng = np.random.default_rng(0)
    return with_errors(xb_rows, 12.0 + rng.normal(0, 1.0, len(b)) - 3.0 * (b == 1))


# --- statistics ----------------------------------------------------------------------------------
def test_point_estimates_are_the_plain_ones():
    rng = np.random.default_rng(1)
    e = np.round(rng.normal(10, 2, 300), 1)
    masks = rng.random((300, 3)) < [0.5, 0.2, 0.08]
    st = shift_statistics(e, masks, n_boot=50)
    for j in range(3):
        kept, rest = e[masks[:, j]], e[~masks[:, j]]
        assert st["n_kept"][j] == kept.size and st["n_rest"][j] == rest.size
        assert st["mean_shift"][j] == pytest.approx(kept.mean() - rest.mean(), abs=1e-12)
        q = np.quantile(kept, 0.25, method="inverted_cdf") - np.quantile(rest, 0.25, method="inverted_cdf")
        assert st["q_shift"][j] == pytest.approx(q, abs=1e-12)


def test_bootstrap_replicates_follow_the_brute_force_bootstrap():
    """Replicates drawn with counts (means) and Beta order statistics (quantiles) against a plain
    resample-and-compute bootstrap of the same population: same distributions."""
    rng = np.random.default_rng(2)
    n = 200
    e = np.sort(np.round(rng.normal(10, 2, n), 1))
    masks = rng.random((n, 2)) < [0.4, 0.15]
    boot_mean, boot_q = bootstrap_shifts(e, masks, 3000, 0.25, seed=5)
    draws = np.random.default_rng(9).integers(0, n, (3000, n))
    brute_mean, brute_q = np.empty_like(boot_mean), np.empty_like(boot_q)
    for i, d in enumerate(draws):
        for j in range(2):
            kept, rest = e[d][masks[d, j]], e[d][~masks[d, j]]
            brute_mean[i, j] = kept.mean() - rest.mean()
            brute_q[i, j] = (np.quantile(kept, 0.25, method="inverted_cdf")
                             - np.quantile(rest, 0.25, method="inverted_cdf"))
    for j in range(2):
        assert stats.ks_2samp(boot_mean[:, j], brute_mean[:, j]).pvalue > 1e-3
        assert stats.ks_2samp(boot_q[:, j], brute_q[:, j]).pvalue > 1e-3
        assert np.std(boot_mean[:, j]) == pytest.approx(np.std(brute_mean[:, j]), rel=0.1)
    # the check can fail: a bootstrap that resamples only the kept group (rest held fixed) is too narrow
    kept, rest = e[masks[:, 0]], e[~masks[:, 0]]
    fixed_rest = np.array([kept[np.random.default_rng(i).integers(0, kept.size, kept.size)].mean()
                           for i in range(3000)]) - rest.mean()
    assert np.std(fixed_rest) < 0.85 * np.std(brute_mean[:, 0])


def test_intervals_cover_the_true_shift_at_their_level():
    """Coverage of the 90% mean-shift interval on 1,000 simulated populations with a known shift."""
    rng = np.random.default_rng(3)
    hits, sims = 0, 1000
    for sim in range(sims):
        m = rng.random(300) < 0.3
        e = rng.normal(10, 1, 300) - 0.5 * m
        st = shift_statistics(e, m[:, None], n_boot=300, level=0.9, seed=sim)
        hits += st["mean_shift_lo"][0] <= -0.5 <= st["mean_shift_hi"][0]
    assert abs(hits / sims - 0.9) <= 3 * (0.9 * 0.1 / sims) ** 0.5, hits / sims  # binomial(1000, 0.9): +/- 3 sd


def test_ks_p_values_exact_for_small_groups_asymptotic_close_for_large():
    from designspace.stats.ks import KS_EXACT_MAX, ks_2samp

    rng = np.random.default_rng(6)
    a, b = rng.normal(0, 1, 60), rng.normal(0.3, 1, 200)
    assert ks_2samp(a, b).pvalue == pytest.approx(stats.ks_2samp(a, b, method="exact").pvalue, rel=1e-12)
    a, b = rng.normal(0, 1, 400), rng.normal(0.1, 1, 900)
    assert len(a) * len(b) > KS_EXACT_MAX
    assert ks_2samp(a, b).pvalue == pytest.approx(stats.ks_2samp(a, b, method="exact").pvalue, rel=0.05)


def test_holm_and_bh_adjustments():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # Holm: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1, running maximum
    assert adjust_pvalues(p, "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert adjust_pvalues(p, "bh") == pytest.approx(stats.false_discovery_control(p, method="bh"))
    assert adjust_pvalues(np.array([0.9, 0.8]), "holm") == pytest.approx([1.0, 1.0])


# --- candidates and ranking ------------------------------------------------------------------------
def test_planted_good_region_ranks_first_with_an_interval_below_zero(planted):
    table = refine(planted, n_boot=500, seed=0)
    top = table.iloc[0]
    assert top["candidate"] == "b == 1" and top["rank"] == 1
    assert top["improves"] and top["mean_shift_hi"] < 0 and top["p_adjusted"] < 1e-6
    assert top["mean_shift"] == pytest.approx(-3.0, abs=0.4)
    assert top["q25_shift_hi"] < 0
    # others may improve through their correlation with b inside the flops band (narrow w1), by less
    others = table[table["improves"] & (table["candidate"] != "b == 1")]
    assert (others["mean_shift"] > top["mean_shift"] + 1.0).all()
    # every free parameter of AnyNetXB was a candidate; shared b is a property of the space, not one
    params = set(table["parameter"])
    assert {"b", "g1", "g4", "d1", "w4", "non-decreasing widths", "e_fit lower half"} <= params
    assert "shared b" not in params
    assert any("b1 == b2 == b3 == b4" in note for note in table.attrs["method"]["notes"])
    assert table.attrs["method"]["population"]["models"] == len(planted)


def test_null_populations_flag_nothing_beyond_the_error_rate():
    """200 RegNetX populations whose errors do not depend on the architecture: Holm keeps the chance
    that any candidate is flagged at most alpha = 0.05 (the rule adds the interval condition)."""
    pop = prepare(with_errors(sampled_rows("RegNetX", 200, seed=2), np.zeros(200)))
    cands = candidates(pop)
    assert len(cands) >= 25
    rng = np.random.default_rng(4)
    flagged = any_p = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for sim in range(200):
            null = dataclasses.replace(pop, errors=rng.normal(12, 1, 200))
            table = rank_candidates(null, cands, n_boot=20, seed=sim)
            flagged += bool(table["improves"].any())
            any_p += bool((table["p_adjusted"] < 0.05).any())
    # binomial(200, 0.05): P(X > 19) < 0.001; without a correction (25+ tests at 0.05) X would be ~150
    assert any_p <= 19 and flagged <= any_p


def test_width_decreases_penalised_finds_non_decreasing_widths():
    """The paper's AnyNetXC -> D step: with errors that grow per width decrease, the structural
    candidate `w1 <= w2 <= w3 <= w4` improves the space."""
    df = pd.DataFrame(synthetic_trials(spaces=("AnyNetXA",), n=500, seed=2, slope=0.0, penalty=1.5, noise=1.0))
    from designspace.store import flatten_specs

    table = refine(flatten_specs(df), n_boot=300)
    row = table.set_index("candidate").loc["w1 <= w2 <= w3 <= w4"]
    assert row["improves"] and row["mean_shift_hi"] < -1.0


def test_tries_are_ranked_and_small_ones_skipped_with_a_warning(planted):
    with pytest.warns(UserWarning, match="skipped"):
        table = refine(planted, tries=["b == 1 and g1 >= 8", "w1 >= 1024", "b==1"], n_boot=200)
    rows = table.set_index("candidate")
    assert rows.loc["b == 1 and g1 >= 8", "kind"] == "try"
    assert rows.loc["b == 1 and g1 >= 8", "improves"]
    assert rows.loc["b == 1", "kind"] == "value"  # a try repeating a candidate is evaluated once
    assert (table["candidate"] == "b == 1").sum() == 1
    small = rows.loc["w1 >= 1024"]
    assert small["status"].startswith("skipped") and pd.isna(small["rank"]) and np.isnan(small["mean_shift"])


def test_repeated_trials_count_as_one_model(planted):
    three = pd.concat([planted.assign(seed=s, error=planted["error"] + d) for s, d in ((0, -0.1), (1, 0.0), (2, 0.1))],
                      ignore_index=True)
    once = refine(planted, n_boot=100, efit=False)
    rep = refine(three, n_boot=100, efit=False)
    assert rep.attrs["method"]["population"] == {"space": "AnyNetXB", "models": 600, "trials": 1800}
    pd.testing.assert_series_equal(once["mean_shift"], rep["mean_shift"], atol=1e-9)


def test_a_csv_read_by_pandas_without_space_column(planted, tmp_path):
    """Lists as JSON text, no space column: the API still refines (named by the space given)."""
    path = tmp_path / "t.csv"
    write_rows(planted.drop(columns="space").to_dict("records"), str(path))
    table = refine(pd.read_csv(path), space="AnyNetXB", n_boot=100)
    assert table["candidate"].iloc[0] == "b == 1" and table.attrs["method"]["population"]["space"] == "AnyNetXB"
    assert (table["parameter"] == "e_fit lower half").any()


def test_bad_input_is_a_usage_error(planted):
    from designspace.errors import UsageError

    with pytest.raises(UsageError, match="unknown column 'nope'"):
        refine(planted, tries=["nope > 1"])
    with pytest.raises(UsageError, match="not a constraint"):
        refine(planted, tries=["wm + 1"])
    with pytest.raises(UsageError):
        refine(planted, tries=["__import__('os').system('true')"])
    with pytest.raises(UsageError, match="error"):
        refine(planted.drop(columns="error"))
    two = pd.concat([planted, planted.assign(space="AnyNetXC")], ignore_index=True)
    with pytest.raises(UsageError, match="2 spaces"):
        refine(two)
    assert refine(two, space="AnyNetXC", n_boot=50, efit=False).attrs["method"]["population"]["space"] == "AnyNetXC"


# --- the command ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def planted_table(tmp_path_factory, planted):
    path = tmp_path_factory.mktemp("refine") / "xb.jsonl"
    write_rows(planted.to_dict("records"), str(path))
    return path


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_cli_json_and_outputs(planted_table, tmp_path, capsys):
    before = _digest(planted_table)
    out = tmp_path / "out"
    assert main(["refine", str(planted_table), "--json", "--bootstrap", "200", "--out", str(out),
                 "--try", "d <= 20"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["candidates"][0]["candidate"] == "b == 1" and result["candidates"][0]["improves"]
    assert "Holm" in result["method"]["correction"] and "200 resamples" in result["method"]["interval"]
    assert any(c["candidate"] == "d <= 20" and c["kind"] == "try" for c in result["candidates"])
    for name in ("refine.csv", "refine.json", "refine_edf.png", "refined_space.yaml"):
        assert (out / name).stat().st_size > 0
    assert pd.read_csv(out / "refine.csv")["candidate"].iloc[0] == "b == 1"
    assert _digest(planted_table) == before  # read-only on its input
    assert result["space_file"] == str(out / "refined_space.yaml")


def test_written_space_file_samples_inside_the_refinement(planted_table, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["refine", str(planted_table), "--bootstrap", "100", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    first = lines[next(i for i, line in enumerate(lines) if line.startswith("rank")) + 1].split()
    assert first[:4] == ["1", "b", "==", "1"] and first[-1] == "yes"
    assert f"best refinement: b == 1 -> {out / 'refined_space.yaml'}" in text
    import yaml

    definition = yaml.safe_load((out / "refined_space.yaml").read_text())
    assert definition == {"name": "AnyNetXB[b==1]", "base": "AnyNetXB", "constraints": ["b == 1"]}
    specs = get_space(str(out / "refined_space.yaml")).sample(40, seed=3, regime=REGIME)
    assert len(specs) == 40 and all(set(s.bottleneck_ratios) == {1.0} for s in specs)
    sampled = tmp_path / "sampled.jsonl"
    assert main(["sample", "--space", str(out / "refined_space.yaml"), "-n", "20", "--regime", REGIME,
                 "--out", str(sampled)]) == 0
    rows = [json.loads(line) for line in sampled.read_text().splitlines()]
    assert len(rows) == 20 and all(r["bottleneck_ratios"] == [1.0] * 4 for r in rows)


def test_refinement_of_a_user_defined_space_is_self_contained(tmp_path):
    """A population sampled from a space file (a name no registry knows): the refined file carries
    the whole definition plus the new constraint, and samples inside both constraints."""
    from designspace.analysis.refine import best_refinement, refined_definition

    user = tmp_path / "my_space.yaml"
    user.write_text("name: MyRegNet\nbase: RegNetX\nconstraints: ['d <= 40']\n")
    space = get_space(str(user))
    draw, cx = space.sample_arrays(400, seed=0, regime=REGIME)
    rows = spec_rows(space.specs_from(draw), cx, REGIME)
    wm = np.array([r["wm"] for r in rows])
    df = with_errors(rows, 12 + np.random.default_rng(1).normal(0, 0.5, len(rows)) - 2.0 * (wm >= np.median(wm)))
    with pytest.warns(UserWarning, match="labelled 'MyRegNet'"):
        table = refine(df, space=str(user), n_boot=200, efit=False)
    best = best_refinement(table)
    assert best["candidate"].startswith("wm >= ") and best["improves"]
    pop = prepare(df, space=str(user), efit=False)
    definition = refined_definition(pop, best["candidate"])
    assert "base" not in definition and definition["constraints"] == ["d <= 40", best["candidate"]]
    cut = float(best["candidate"].split(">=")[1])
    specs = get_space(definition).sample(30, seed=2, regime=REGIME)
    assert all(s.meta["wm"] >= cut and s.meta["d"] <= 40 for s in specs)


def test_a_second_round_names_the_space_by_both_constraints():
    from designspace.analysis.refine import refined_definition

    rows = sampled_rows("AnyNetXB[b==1]", 120, seed=4)
    assert {r["space"] for r in rows} == {"AnyNetXB[b==1]"}
    pop = prepare(with_errors(rows, np.zeros(len(rows))), efit=False)
    definition = refined_definition(pop, "w1 <= 32")
    assert definition == {"name": "AnyNetXB[b==1,w1<=32]", "base": "AnyNetXB[b==1]", "constraints": ["w1 <= 32"]}
    again = get_space(definition)
    assert again.name == "AnyNetXB[b==1,w1<=32]"
    assert get_space(again.name).definition()["constraints"] == ["b == 1", "w1 <= 32"]


def test_best_refinement_skips_what_a_space_file_cannot_say(planted):
    from designspace.analysis.refine import best_refinement

    table = refine(planted, n_boot=100)
    assert not table.set_index("candidate").filter(like="e_fit", axis=0)["space_constraint"].any()
    fake = table.copy()
    fake.loc[fake["kind"] == "structure", "improves"] = True
    efit = fake["parameter"].str.startswith("e_fit")
    fake = pd.concat([fake[efit], fake[~efit]])
    assert best_refinement(fake)["candidate"] == "b == 1"


def test_cli_reads_a_store_and_picks_a_space(tmp_path, capsys):
    from designspace.analysis.synthetic import write_synthetic_store

    db = tmp_path / "results.db"
    write_synthetic_store(str(db), spaces=("AnyNetXA", "AnyNetXE"), n=150, seed=1, penalty=1.5, slope=0.0)
    before = _digest(db)
    assert main(["refine", str(db), "--json", "--bootstrap", "50"]) == 2
    assert "2 spaces (AnyNetXA, AnyNetXE)" in capsys.readouterr().err
    assert main(["refine", str(db), "--space", "anynetxa", "--json", "--bootstrap", "100", "--correction", "bh"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["method"]["population"] == {"space": "AnyNetXA", "models": 150, "trials": 150}
    assert "Benjamini-Hochberg" in result["method"]["correction"]
    assert any(c["candidate"] == "w1 <= w2 <= w3 <= w4" for c in result["candidates"])
    assert _digest(db) == before


@pytest.mark.parametrize("case", ["no_error", "unknown_column", "malicious", "two_spaces", "empty", "empty_csv",
                                  "binary", "binary_db", "missing"])
def test_cli_errors_are_one_line_exit_2(case, planted, tmp_path, capsys):
    path = tmp_path / "t.jsonl"
    args = []
    if case == "no_error":
        write_rows(planted.drop(columns="error").head(50).to_dict("records"), str(path))
    elif case in ("unknown_column", "malicious"):
        write_rows(planted.head(100).to_dict("records"), str(path))
        args = ["--try", "wx >= 2" if case == "unknown_column" else "__import__('os').system('touch pwned')"]
    elif case == "two_spaces":
        write_rows(pd.concat([planted.head(60), planted.head(60).assign(space="AnyNetXC")]).to_dict("records"),
                   str(path))
    elif case == "empty":
        path.write_text("")
    elif case == "empty_csv":
        path = tmp_path / "t.csv"
        path.write_text("")
    elif case == "binary":
        path = tmp_path / "t.parquet"
        path.write_bytes(bytes(range(256)) * 8)
    elif case == "binary_db":
        path = tmp_path / "t.db"
        path.write_bytes(bytes(range(256)) * 8)
    else:
        path = tmp_path / "absent.csv"
    before = path.read_bytes() if path.exists() else None
    assert main(["refine", str(path), "--bootstrap", "50", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("designspace: error:") and "Traceback" not in err
    assert (path.read_bytes() if path.exists() else None) == before
    assert not (tmp_path / "pwned").exists()
