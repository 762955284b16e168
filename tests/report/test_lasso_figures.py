"""LASSO figures draw the CV curve and one path line per feature, with the chosen λ marked."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from hccrad.report.figures.lasso import plot_lasso_cv, plot_lasso_path  # noqa: E402
from hccrad.selection import LassoSelector  # noqa: E402


def test_lasso_figures():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(80, 6)), columns=[f"f{i}" for i in range(6)])
    y = (X["f0"] + 0.5 * rng.normal(size=80) > 0).astype(int).to_numpy()
    lasso = LassoSelector(cv=5, Cs=12).fit(X, y)
    fig, (a, b) = plt.subplots(1, 2)
    plot_lasso_cv(a, lasso)
    plot_lasso_path(b, lasso)
    assert len(b.get_lines()) >= 6 + 2  # one per feature + the λ and zero lines
    chosen = -np.log10(lasso.C_)
    assert any(np.allclose(line.get_xdata(), chosen) for line in a.get_lines()), "chosen λ not marked"
    plt.close(fig)
