"""Reference net benefits from the Python `dcurves` package (PyPI 1.1.7, Sjoberg/Vickers et al.), the
reference implementation of decision curve analysis; hccrad's own code is never used here.

Writes tests/reference/python/results/dcurves_surv.csv and dcurves_case_control.csv, read by
tests/reference/test_dcurves_surv_case_control.py. `dcurves` is NOT a hccrad dependency; regenerate with
`make references-python`, or by hand:

    pip install --no-deps --target /tmp/dcurves_ref dcurves==1.1.7   # dependencies: hccrad's venv
    PYTHONPATH=/tmp/dcurves_ref python tests/reference/python/dcurves_reference.py [path/to/dcurves_dca]

Inputs: dcurves' simulated example data df_surv.csv and df_case_control.csv (../shared/data/stats_reference/
dcurves_dca, PROVENANCE.md §C; the same CSVs ship inside the dcurves wheel as dcurves/data/).
Cases:
  * survival DCA at time 1.5:  dca(df_surv, outcome="cancer", time_to_outcome_col="ttcancer", time=1.5),
    models cancerpredmarker (a risk) and famhistory (0/1, exercises the 0 − ε / 1 + ε boundaries);
  * survival DCA at time 4.5, past the last follow-up of some high-risk subsets (NaN net benefits);
  * case-control DCA with prevalence 0.20 on df_case_control (outcome casecontrol), same models.
Thresholds 0, 0.01, …, 0.99 (dcurves' default). Each row carries the dcurves, lifelines and pandas versions.
"""

from __future__ import annotations

import sys
from importlib.metadata import version
from pathlib import Path

import pandas as pd
from dcurves import dca

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parents[3] / "shared" / "data" / "stats_reference" / "dcurves_dca"
MODELS = ["cancerpredmarker", "famhistory"]
COLUMNS = ["model", "threshold", "n", "prevalence", "test_pos_rate", "tp_rate", "fp_rate", "net_benefit",
           "net_intervention_avoided"]


def _versions(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(dcurves_version=version("dcurves"), lifelines_version=version("lifelines"),
                     pandas_version=version("pandas"))


def survival_reference(data_dir: Path) -> pd.DataFrame:
    df_surv = pd.read_csv(data_dir / "df_surv.csv")
    frames = []
    for horizon in (1.5, 4.5):
        out = dca(data=df_surv, outcome="cancer", modelnames=MODELS, time=horizon,
                  time_to_outcome_col="ttcancer")
        frames.append(out[COLUMNS].assign(time=horizon))
    return _versions(pd.concat(frames, ignore_index=True))


def case_control_reference(data_dir: Path, prevalence: float = 0.20) -> pd.DataFrame:
    df_cc = pd.read_csv(data_dir / "df_case_control.csv")
    df_cc["casecontrol"] = df_cc["casecontrol"].astype(int)
    out = dca(data=df_cc, outcome="casecontrol", modelnames=MODELS, prevalence=prevalence)
    return _versions(out[COLUMNS].assign(given_prevalence=prevalence))


def main(data_dir: Path = DEFAULT_DATA) -> None:
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    survival_reference(data_dir).to_csv(results / "dcurves_surv.csv", index=False)
    case_control_reference(data_dir).to_csv(results / "dcurves_case_control.csv", index=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DATA)
