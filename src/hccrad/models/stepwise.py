"""The clinical univariable screen -> multivariable stepwise logistic of seed 000 as a selection transformer
(:class:`StepwiseSelector`), so it is refitted inside every resample. It lives with the models because it is
built on :func:`hccrad.models.logistic.stepwise_logistic` (the selection package stays below the models)."""

from __future__ import annotations

import logging
from numbers import Real

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval, StrOptions

from hccrad.models.logistic import stepwise_logistic
from hccrad.selection.filters import _check_xy, _names, _Selector

logger = logging.getLogger(__name__)


class StepwiseSelector(_Selector):
    """Clinical-variable selection of seed 000 as a transformer: univariable logistic screen (p < ``screen_p``)
    then multivariable stepwise logistic (see :func:`hccrad.models.logistic.stepwise_logistic`).

    Fitted: ``result_`` (the :class:`~hccrad.models.logistic.StepwiseResult`). If nothing is selected, the
    variable with the smallest univariable p is kept (logged).
    """

    _parameter_constraints = {
        "screen_p": [Interval(Real, 0, 1, closed="both"), None],
        "entry_p": [Interval(Real, 0, 1, closed="both")],
        "stay_p": [Interval(Real, 0, 1, closed="both")],
        "direction": [StrOptions({"forward", "backward", "both"})],
        "criterion": [StrOptions({"p", "aic"})],
        "groups": [dict, None],
    }

    def __init__(
        self,
        screen_p: float | None = 0.1,
        entry_p: float = 0.1,
        stay_p: float = 0.1,
        direction: str = "both",
        criterion: str = "p",
        groups: dict[str, list[str]] | None = None,
    ) -> None:
        self.screen_p = screen_p
        self.entry_p = entry_p
        self.stay_p = stay_p
        self.direction = direction
        self.criterion = criterion
        self.groups = groups  # {variable: its columns}: a categorical variable's dummies, selected as one

    def fit(self, X, y=None):
        Xv, yv = _check_xy(self, X, y)
        names = _names(self, Xv.shape[1])
        df = pd.DataFrame(Xv, columns=names).assign(__y__=yv)
        groups = {v: list(cols) for v, cols in (self.groups or {}).items() if set(cols) <= set(names)}
        variable_of = {c: v for v, cols in groups.items() for c in cols}
        variables = list(dict.fromkeys(variable_of.get(n, n) for n in names))
        res = stepwise_logistic(
            df, "__y__", variables, screen_p=self.screen_p, entry_p=self.entry_p, stay_p=self.stay_p,
            direction=self.direction, criterion=self.criterion, groups=groups,
        )
        self.result_ = res
        if groups:
            chosen = set(res.selected) or {res.univariable["p"].idxmin()}
            if not res.selected:
                logger.warning("StepwiseSelector: no variable passed (stepwise selection); keeping the best "
                               "one, %r", next(iter(chosen)))
            self.support_ = np.array([variable_of.get(n, n) in chosen for n in names])
            return self
        mask = np.array([n in res.selected for n in names])
        order = np.array([names.index(v) for v in res.univariable.sort_values("p").index])
        self.support_ = self._keep_best(mask, order, "stepwise selection")
        return self


__all__ = ["StepwiseSelector"]
