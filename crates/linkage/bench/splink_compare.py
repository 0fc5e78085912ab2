#!/usr/bin/env python3
"""Runs Splink (DuckDB backend) on a CSV written by the `linkage_generate` example and prints
precision, recall and F1 at several thresholds, with timings, for the side-by-side comparison
with `enlace link` in BENCHMARKS.md. Outside CI.

Setup (once):  python3 -m venv /work/venv-splink && /work/venv-splink/bin/pip install splink duckdb
Run:           /work/venv-splink/bin/python splink_compare.py records.csv
"""

import sys
import time
import unicodedata

import pandas as pd
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
import splink.comparison_library as cl

THRESHOLDS = [0.5, 0.8, 0.9, 0.95, 0.99]


def fold(s):
    """Accent and case folding, as any Splink user would do first."""
    if not isinstance(s, str) or not s.strip():
        return None
    s = unicodedata.normalize("NFD", s)
    s = "".join(c for c in s if not unicodedata.combining(c))
    return " ".join(s.lower().replace(".", " ").split()) or None


def iso_date(s):
    """The generator writes YYYY-MM-DD, YYYYMMDD or DD/MM/YYYY."""
    if not isinstance(s, str) or not s:
        return None
    if "/" in s:
        d, m, y = s.split("/")
        return f"{y}-{int(m):02d}-{int(d):02d}"
    if len(s) == 8 and s.isdigit():
        return f"{s[:4]}-{s[4:6]}-{s[6:]}"
    return s


def main():
    path = sys.argv[1]
    t0 = time.perf_counter()
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df["unique_id"] = df["id"].astype(int)
    df["given_names"] = df["given_names"].map(fold)
    df["first_given"] = df["given_names"].map(lambda s: s.split()[0] if isinstance(s, str) else None)
    df["surname_1"] = df["surname_1"].map(fold)
    df["surname_2"] = df["surname_2"].map(fold)
    df["dob"] = df["birth_date"].map(iso_date)
    df["birth_year"] = [d[:4] if isinstance(d, str) else (y or None) for d, y in zip(df["dob"], df["birth_year"])]
    df["birthday"] = df["dob"].map(lambda d: d[5:] if isinstance(d, str) else None)
    df["birth_place"] = df["birth_place"].map(fold)
    for c in ["sex", "nationality", "document"]:
        df[c] = df[c].map(lambda s: s or None)
    truth = dict(zip(df["unique_id"], df["entity"]))
    df = df[["unique_id", "given_names", "first_given", "surname_1", "surname_2", "dob", "birth_year",
             "birthday", "sex", "nationality", "birth_place", "document"]]
    t1 = time.perf_counter()

    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.NameComparison("given_names").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname_1").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname_2"),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.ExactMatch("sex"),
            cl.ExactMatch("nationality"),
            cl.JaroWinklerAtThresholds("birth_place", [0.92, 0.8]),
            cl.ExactMatch("document"),
        ],
        # The same passes as enlace link's, on exact (folded) values: Splink has no Spanish
        # phonetic key.
        blocking_rules_to_generate_predictions=[
            block_on("surname_1", "surname_2", "birth_year"),
            block_on("first_given", "surname_1", "birth_year"),
            block_on("dob", "substr(first_given, 1, 1)"),
            block_on("dob", "substr(surname_1, 1, 1)"),
            "l.first_given = r.first_given and l.surname_1 = r.surname_2 and l.surname_2 = r.surname_1",
            block_on("first_given", "surname_1", "birthday"),
            block_on("document"),
            # Year errors with both names exact (the phonetic passes' stand-in).
            block_on("given_names", "surname_1"),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    db = DuckDBAPI()
    linker = Linker(db.register(df), settings)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_names", "surname_1", "surname_2", "dob"), block_on("document")], recall=0.6
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("first_given", "surname_1"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    t2 = time.perf_counter()
    pred = linker.inference.predict(threshold_match_probability=min(THRESHOLDS)).as_pandas_dataframe()
    t3 = time.perf_counter()

    counts = pd.Series(list(truth.values())).value_counts()
    true_total = int((counts * (counts - 1) // 2).sum())
    same = [truth[a] == truth[b] for a, b in zip(pred["unique_id_l"], pred["unique_id_r"])]
    pred["same"] = same
    print(f"records {len(df)}  true pairs {true_total}")
    print(f"time: prepare {t1 - t0:.2f} s, train {t2 - t1:.2f} s, predict {t3 - t2:.2f} s, total {t3 - t0:.2f} s")
    for t in THRESHOLDS:
        sel = pred[pred["match_probability"] >= t]
        tp = int(sel["same"].sum())
        fp = len(sel) - tp
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / true_total if true_total else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        print(f"  at {t:.2f}: precision {p:.4f} recall {r:.4f} F1 {f1:.4f} (tp {tp} fp {fp})")


if __name__ == "__main__":
    main()
