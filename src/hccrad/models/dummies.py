"""Treatment (dummy) coding of categorical predictors inside a scikit-learn pipeline.

`DummyEncoder(codings={"BCLC": (["A", "B", "C", "D"], "A")})` replaces each coded column X by the dummies
`X[l]` = 1{X = l} for every level l but the reference (scikit-learn's
`OneHotEncoder(categories=[levels], drop=[reference], handle_unknown="error")` in a `ColumnTransformer`);
other columns pass through unchanged, and the output keeps the input's column order with each coded column
replaced by its dummies in place (`BCLC` -> `BCLC[B]`, `BCLC[C]`, `BCLC[D]`). This is patsy's
`C(BCLC, Treatment("A"))`, so a logistic model on the output has the coefficients of statsmodels' formula
API (tests/models/test_dummies.py).

The levels are fixed when the encoder is built (declared in the spec, or inferred from the training cohort),
so every bootstrap resample codes the same columns. Fitting on data in which a level has no row is an error
(its coefficient would not exist); a blank, or a value that is not a level, is an error naming the case and
the value at fit and at predict time -- never an all-zero row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder
from sklearn.utils.validation import check_is_fitted

from hccrad.clinical.categorical import Coding, as_levels, dummy_name
from hccrad.core.errors import DataError, ModelError


def encoder_codings(codings: Mapping[str, Coding]) -> dict[str, tuple[list[str], str]]:
    """`DummyEncoder`'s parameter from `hccrad.clinical.categorical.Coding`s."""
    return {c: (list(k.levels), k.reference) for c, k in codings.items()}


def _name_dummy(column: str, level: object) -> str:
    return dummy_name(str(column), str(level))


class DummyEncoder(TransformerMixin, BaseEstimator):
    """Dummy-code the columns in `codings` ({column: (levels, reference)}); see the module docstring."""

    def __init__(self, codings: Mapping[str, tuple[Sequence[str], str]]) -> None:
        self.codings = codings

    def _levels(self, X: pd.DataFrame, *, fitting: bool) -> pd.DataFrame:
        """The coded columns as level texts, after checking every value (case and value named)."""
        if not isinstance(X, pd.DataFrame):
            raise DataError("DummyEncoder needs a DataFrame with named columns",
                            hint="pass the clinical table as a pandas DataFrame")
        out = {}
        for col, (levels, reference) in self.codings.items():
            if col not in X.columns:
                raise ModelError(f"categorical column {col!r} is not in the data", field=col)
            text = as_levels(X[col])
            blank = text.isna()
            if blank.any():
                case = X.index[blank][0]
                raise DataError(f"blank value of categorical {col!r} ({int(blank.sum())} case(s))", case=str(case),
                                field=col, hint="fill it, or leave the case out before modelling")
            unknown = ~text.isin(list(levels))
            if unknown.any():
                case = X.index[unknown][0]
                raise DataError(
                    f"value {X[col][case]!r} of categorical {col!r} is not one of its levels {list(levels)}"
                    + (" seen in the training cohort" if not fitting else "")
                    + f" ({int(unknown.sum())} case(s))", case=str(case), field=col,
                    hint="declare the level in data.categorical (with training cases), or recode it with "
                         "data.recode")
            if fitting:
                absent = [lv for lv in levels if not (text == lv).any()]
                if absent:
                    raise ModelError(f"level(s) {absent} of categorical {col!r} have no case in the data the model "
                                     f"is fitted on: their coefficients do not exist", field=col,
                                     hint="merge rare levels with data.recode, or drop the level")
            out[col] = text
        return X.assign(**out)

    def fit(self, X, y=None):
        coded = self._levels(X, fitting=True)
        self.columns_ = [str(c) for c in X.columns]
        self.n_features_in_ = len(self.columns_)
        self.feature_names_in_ = np.asarray(self.columns_, dtype=object)
        encoders = [(col, OneHotEncoder(categories=[list(levels)], drop=[reference], handle_unknown="error",
                                        sparse_output=False, dtype=float, feature_name_combiner=_name_dummy),
                     [col]) for col, (levels, reference) in self.codings.items()]
        self.transformer_ = ColumnTransformer(encoders, remainder="passthrough", verbose_feature_names_out=False)
        self.transformer_.set_output(transform="pandas").fit(coded)
        self.feature_names_out_ = [name for col in self.columns_ for name in self._names_of(col)]
        return self

    def _names_of(self, col: str) -> list[str]:
        if col not in self.codings:
            return [col]
        levels, reference = self.codings[col]
        return [dummy_name(col, lv) for lv in levels if lv != reference]

    def transform(self, X):
        check_is_fitted(self, "transformer_")
        missing = [c for c in self.columns_ if c not in X.columns]
        if missing:
            raise ModelError(f"DummyEncoder: column(s) {missing[:5]} missing", field=missing[0])
        out = self.transformer_.transform(self._levels(X[self.columns_], fitting=False))
        return out[self.feature_names_out_]

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "transformer_")
        return np.asarray(self.feature_names_out_, dtype=object)

    def level_columns(self) -> dict[str, dict[str, str | None]]:
        """{categorical column: {level: its dummy column, None for the reference}} in level order (the
        nomogram's one axis per variable)."""
        return {col: {lv: None if lv == ref else dummy_name(col, lv) for lv in levels}
                for col, (levels, ref) in self.codings.items()}

    def groups(self) -> dict[str, list[str]]:
        """{input column: its output columns} (a categorical variable's dummies, or the column itself)."""
        check_is_fitted(self, "transformer_")
        return {col: self._names_of(col) for col in self.columns_}


__all__ = ["DummyEncoder", "encoder_codings"]
