"""L1-penalised logistic regression along a grid of C on one training set, inputs checked once.

Objective (Tibshirani 1996; LIBLINEAR, Fan et al., JMLR 2008; scikit-learn's ``LogisticRegression``):

    min_{w, b}  |w|_1 + C * sum_i log(1 + exp(-s_i (x_i . w + b))),   s_i = +-1,

with the intercept b penalised as a feature (``penalize_intercept=True``, liblinear, ``|(w, b)|_1``) or free
(``False``, SAGA; Defazio, Bach & Lacoste-Julien 2014), which is glmnet's objective for lambda = 1 / (n C).

:class:`L1LogisticPath` gives, for each C asked, exactly what
``LogisticRegression(C=C, l1_ratio=1.0, solver=..., ...).fit(X, y)`` gives -- the fit :class:`LassoSelector`
made per fold and per C until issue 24 -- without scikit-learn's per-call input checking (half the time of
those fits):

* liblinear: scikit-learn's own call of the LIBLINEAR solver (``sklearn.svm._base._fit_liblinear`` ->
  ``_liblinear.train_wrap``: solver 6 = L1-regularised logistic regression, tol 1e-4, max_iter 1000, bias
  (intercept_scaling) 1, unit class and sample weights, the solver seed drawn from ``random_state`` as
  scikit-learn draws it) on an X and y prepared once. LIBLINEAR has no warm start; the coefficients are
  bit-identical to the per-call fits.
* SAGA: scikit-learn's ``sag_solver`` (tol 1e-10, max_iter 100,000, the sample order seeded as in a cold fit)
  warm-started from the solution *and* SAGA memory of the next smaller C on the grid (the path is fitted in
  increasing C, as ``LogisticRegressionCV`` does) once that solution has a non-zero coefficient (the
  all-zero end of the path is fitted cold, bit-identical to before). It converges to the same optimum as a
  cold start: coefficients agree within the solver tolerance (tested to 1e-4 against the cold-start fits,
  tests/selection/test_lasso_speed_equivalence.py). Where SAGA does not converge (p >= n at large C, max_iter
  reached) neither fit is a solution and they differ; a ConvergenceWarning says so, as before.

scikit-learn is pinned (requirements/base.txt); the private calls are checked against the public
``LogisticRegression`` by that test.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model._sag import sag_solver
from sklearn.svm import _liblinear
from sklearn.utils import check_random_state
from sklearn.utils.extmath import row_norms

LIBLINEAR_L1_LOGISTIC = 6  # sklearn.svm._base._get_liblinear_solver_type("ovr", "l1", "logistic_regression", False)
LIBLINEAR_TOL, LIBLINEAR_MAX_ITER = 1e-4, 1000  # LogisticRegression's defaults, as LassoSelector used them
SAGA_TOL, SAGA_MAX_ITER = 1e-10, 100_000


def _solver_seed(random_state) -> int:
    """The seed scikit-learn hands LIBLINEAR: ``check_random_state(random_state).randint(INT_MAX)``."""
    return int(check_random_state(random_state).randint(np.iinfo("i").max))


class L1LogisticPath:
    """L1 logistic fits of one (X, y) for any C, X and y checked and converted once.

    ``X``: finite 2-D float array (rows = patients); ``y``: 0/1 labels with both classes. ``fit(i)`` returns
    (coef, intercept) at ``Cs[i]``; fits are cached, and with SAGA ``fit(i)`` first fits every smaller C of
    the grid (warm starts), so the result at ``Cs[i]`` does not depend on the order in which C are asked.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, Cs: np.ndarray, penalize_intercept: bool = True,
                 random_state=None) -> None:
        self.Cs = np.asarray(Cs, dtype=float)
        self.penalize_intercept = penalize_intercept
        self.random_state = random_state
        self.X = np.ascontiguousarray(X, dtype=X.dtype if X.dtype in (np.float32, np.float64) else np.float64)
        self.y = np.asarray(y).ravel()
        self._cache: dict[int, tuple[np.ndarray, float]] = {}
        self._memory: dict[int, dict] = {}
        n_features = self.X.shape[1]
        if penalize_intercept:
            _liblinear.set_verbosity_wrap(0)  # LIBLINEAR's print is process-wide; _fit_liblinear silences it per call
            if np.max(self.X) > 1e30:  # the check LogisticRegression makes before calling LIBLINEAR
                raise ValueError("Using the 'liblinear' solver while X contains a maximum value > 1e30 results "
                                 "in a frozen fit. Please choose another solver or rescale the input X.")
            self._y_liblinear = np.require(np.asarray(self.y == 1, dtype=np.float64), requirements="W")
            self._class_weight = np.ones(2, dtype=np.float64)
            self._sample_weight = np.ones(self.X.shape[0], dtype=np.float64)
            # an int seed gives the same solver seed at every call: draw it once
            self._seed = _solver_seed(random_state) if isinstance(random_state, numbers.Integral) else None
        else:
            self._y_saga = np.asarray(self.y == 1, dtype=self.X.dtype)
            self._max_squared_sum = float(row_norms(self.X, squared=True).max())
            self._zero = np.zeros((n_features + 1, 1), dtype=self.X.dtype)

    def fit(self, i: int) -> tuple[np.ndarray, float]:
        """(coefficients, intercept) at ``Cs[i]``."""
        if i not in self._cache:
            self._cache[i] = self._liblinear(i) if self.penalize_intercept else self._saga(i)
        return self._cache[i]

    def coef(self, i: int) -> np.ndarray:
        return self.fit(i)[0]

    def _liblinear(self, i: int) -> tuple[np.ndarray, float]:
        seed = self._seed if self._seed is not None else _solver_seed(self.random_state)
        raw, n_iter = _liblinear.train_wrap(
            self.X, self._y_liblinear, False, LIBLINEAR_L1_LOGISTIC, LIBLINEAR_TOL, 1.0, float(self.Cs[i]),
            self._class_weight, LIBLINEAR_MAX_ITER, seed, 0.1, self._sample_weight)
        if max(n_iter) >= LIBLINEAR_MAX_ITER:
            warnings.warn("Liblinear failed to converge, increase the number of iterations.", ConvergenceWarning)
        return raw[0, :-1].copy(), float(raw[0, -1])

    def _saga(self, i: int) -> tuple[np.ndarray, float]:
        # warm start from the next smaller C once it has a non-zero coefficient; before that, from zero as a
        # cold fit (with every coefficient zero SAGA's stopping rule, a relative change of w, stops at once
        # and would leave the intercept where the previous C left it)
        warm = i > 0 and bool(np.any(self.fit(i - 1)[0]))
        start = self._memory[i - 1] if warm else {"coef": self._zero}
        start = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in start.items()}  # sag updates in place
        w, _, memory = sag_solver(
            self.X, self._y_saga, None, "log", 0.0, 1.0 / float(self.Cs[i]), SAGA_MAX_ITER, SAGA_TOL, 0,
            check_random_state(self.random_state), False, self._max_squared_sum, start, is_saga=True)
        self._memory[i] = memory
        return np.asarray(w[:-1], dtype=float).copy(), float(w[-1])


__all__ = ["L1LogisticPath"]
