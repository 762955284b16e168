"""Deep features per case and their fusion with clinical variables (seed 003: image features + 27
clinical variables into an SVM; seed 002: DL score combined with clinical variables).

`deep_feature_table` exports the penultimate layer (global-average-pooled last feature map) as a tidy
case_id × ``deep_<i>`` frame (items of one case averaged). `fusion_pipeline` is a scikit-learn Pipeline
(standardise → RBF SVC, or L2 logistic regression); `evaluate_fusion` fits it on the training cohort only
and reports the test AUC with its DeLong CI and SEN/SPE/PPV/NPV at the Youden cut-off chosen on the
training cohort (`hccrad.evaluate`). The score is the SVM's decision value f(x) = Σ α_i y_i K(x_i, x) + b
(ranking only; Platt-scaled probabilities from an inner CV can come out inverted on small cohorts, so they
are not used) or the logistic model's probability.

Two honest ways to fuse (both tested):

* CNN score + clinical (seed 003's "CNN output"): the training cohort's score is the out-of-fold
  probability of `cross_validate` (`cnn_scores(cv.predictions)`), the test cohort's that of the network
  trained on the whole training cohort (`cnn_scores(train_test(...).test_predictions)`); a probability
  means the same thing whichever network produced it.
* Deep-feature vector + clinical: `train_test(...).train_features` / `.test_features` from one network
  (deep_<i> of different networks are different variables, so never mix folds).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from hccrad.core.errors import DataError
from hccrad.deep.cv import case_level
from hccrad.deep.data import PatchSet
from hccrad.deep.networks import Network
from hccrad.deep.train import predict
from hccrad.evaluate import AUCResult, ClassificationResult, auc_ci, classification_metrics, youden_threshold

log = logging.getLogger(__name__)

__all__ = ["FusionResult", "cnn_scores", "deep_feature_table", "evaluate_fusion", "fusion_pipeline", "join_features"]


def deep_feature_table(network: Network, patches: PatchSet, *, batch_size: int = 16) -> pd.DataFrame:
    """Penultimate-layer features, index case_id, columns deep_0..deep_{F−1} (mean over a case's items)."""
    items = predict(network, patches, batch_size=batch_size, embeddings=True)
    cases = case_level(items)
    return cases.set_index("case_id")[[c for c in cases.columns if c.startswith("deep_")]]


def cnn_scores(predictions: pd.DataFrame, task: str = "response", positive: int = 1) -> pd.DataFrame:
    """The CNN's probability of class `positive` of `task` per case: index case_id, column cnn_<task>."""
    col = f"{task}_p{positive}"
    if "case_id" not in predictions or col not in predictions:
        raise DataError(f"predictions need columns case_id and {col}", field="predictions",
                        hint="pass CVResult.predictions or TrainTestResult.test_predictions")
    if predictions["case_id"].duplicated().any():
        raise DataError("several rows per case", field="predictions", hint="aggregate items first (case_level)")
    return predictions.set_index("case_id")[[col]].rename(columns={col: f"cnn_{task}"})


def join_features(deep: pd.DataFrame, clinical: pd.DataFrame, case_ids: Sequence[str]) -> pd.DataFrame:
    """Columns of `deep` then `clinical` (both indexed by case_id) for `case_ids`, in that order.

    Clinical columns must already be numeric and complete (encode categories, impute on the training
    cohort first); a missing case or value is an error, never a silent NaN.
    """
    ids = list(case_ids)
    for name, df in (("deep", deep), ("clinical", clinical)):
        miss = [c for c in ids if c not in df.index]
        if miss:
            raise DataError(f"{len(miss)} case(s) missing from the {name} table, e.g. {miss[:3]}", field=name,
                            hint="index both tables by case_id and include every case")
    clash = set(deep.columns) & set(clinical.columns)
    if clash:
        raise DataError(f"columns in both tables: {sorted(clash)[:5]}", field="clinical", hint="rename them")
    out = pd.concat([deep.loc[ids], clinical.loc[ids]], axis=1)
    bad = [c for c in out.columns if not pd.api.types.is_numeric_dtype(out[c])]
    if bad:
        raise DataError(f"non-numeric column(s) {bad[:5]}", field="clinical",
                        hint="encode categorical variables as numbers (e.g. 0/1) before fusing")
    if out.isna().any().any():
        cols = out.columns[out.isna().any()].tolist()
        raise DataError(f"missing values in {cols[:5]}", field="clinical",
                        hint="impute with statistics of the training cohort, or drop the cases")
    return out


def fusion_pipeline(kind: str = "svm", *, C: float = 1.0) -> Pipeline:
    """StandardScaler → SVC (RBF kernel) for kind="svm", or → LogisticRegression (L2) for kind="logistic".
    Both are deterministic (no random state)."""
    if kind == "svm":
        model = SVC(C=C, kernel="rbf")
    elif kind == "logistic":
        model = LogisticRegression(C=C, max_iter=5000)
    else:
        raise DataError(f"unknown fusion model {kind!r}", field="kind", hint='use "svm" or "logistic"')
    return Pipeline([("scale", StandardScaler()), ("model", model)])


def _score(model: Pipeline, X: np.ndarray) -> np.ndarray:
    """Logistic: P(y = 1); SVM: decision value (positive class side > 0)."""
    if hasattr(model, "predict_proba") and isinstance(model[-1], LogisticRegression):
        return model.predict_proba(X)[:, 1]
    return model.decision_function(X)


@dataclass(frozen=True, eq=False)
class FusionResult:
    """A fused deep + clinical model fitted on the training cohort and its test-cohort performance.

    test_scores: logistic probabilities or SVM decision values (threshold on the same scale)."""

    model: Pipeline = field(repr=False)
    features: tuple[str, ...]
    threshold: float
    train_auc: AUCResult
    test_auc: AUCResult
    test_metrics: ClassificationResult
    test_scores: pd.Series

    def summary(self) -> pd.DataFrame:
        rows = [{"cohort": "training", "metric": "auc", "estimate": self.train_auc.auc,
                 "lower": self.train_auc.lower, "upper": self.train_auc.upper, "method": self.train_auc.method},
                {"cohort": "test", "metric": "auc", "estimate": self.test_auc.auc, "lower": self.test_auc.lower,
                 "upper": self.test_auc.upper, "method": self.test_auc.method}]
        m = self.test_metrics.summary()
        for r in m.itertuples(index=False):
            rows.append({"cohort": "test", "metric": r.metric, "estimate": r.estimate, "lower": r.lower,
                         "upper": r.upper, "method": r.method})
        return pd.DataFrame(rows)


def evaluate_fusion(train_X: pd.DataFrame, y_train: Sequence[int], test_X: pd.DataFrame, y_test: Sequence[int],
                    *, kind: str = "svm", C: float = 1.0) -> FusionResult:
    """Fit `fusion_pipeline(kind)` on the training rows only; AUC (DeLong CI) in both cohorts and
    SEN/SPE/PPV/NPV in the test cohort at the training Youden threshold."""
    if list(train_X.columns) != list(test_X.columns):
        raise DataError("training and test feature columns differ", field="test_X",
                        hint="build both with join_features from the same tables")
    ytr = np.asarray(y_train, dtype=int)
    yte = np.asarray(y_test, dtype=int)
    if len(ytr) != len(train_X) or len(yte) != len(test_X):
        raise DataError("outcome length differs from the feature rows", field="y",
                        hint="pass one outcome per row, in the same order")
    model = fusion_pipeline(kind, C=C).fit(train_X.to_numpy(dtype=float), ytr)
    s_tr = _score(model, train_X.to_numpy(dtype=float))
    s_te = _score(model, test_X.to_numpy(dtype=float))
    thr = youden_threshold(ytr, s_tr)
    return FusionResult(model, tuple(map(str, train_X.columns)), float(thr), auc_ci(ytr, s_tr), auc_ci(yte, s_te),
                        classification_metrics(yte, s_te, threshold=thr),
                        pd.Series(s_te, index=test_X.index, name=f"fusion_{kind}"))
