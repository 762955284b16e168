"""Deep features per case and their fusion with clinical variables (SVM / logistic, seed 003)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from hccrad.core.errors import DataError
from hccrad.deep.data import PatchSet
from hccrad.deep.features import deep_feature_table, evaluate_fusion, join_features
from hccrad.deep.networks import Task, build_network
from hccrad.evaluate import auc_ci, youden_threshold
from hccrad.testing import assert_close


def test_deep_features_are_the_case_mean_of_item_embeddings(rng):
    x = rng.normal(size=(6, 2, 16, 16)).astype(np.float32)
    ps = PatchSet(x, ("a", "a", "b", "b", "c", "c"), ("a", "a", "b", "b", "c", "c"), ("p", "q"), "2d",
                  np.zeros((6, 2, 3), int))
    torch.manual_seed(0)
    net = build_network("mobilenet", 2, (Task("response"),), spatial_dims=2, width=4).eval()
    table = deep_feature_table(net, ps, batch_size=4)
    assert list(table.index) == ["a", "b", "c"]
    assert list(table.columns) == [f"deep_{i}" for i in range(net.backbone.n_features)]
    with torch.no_grad():
        emb = net.embed(torch.from_numpy(x)).numpy()
    assert_close(table.to_numpy(), emb.reshape(3, 2, -1).mean(axis=1), rtol=1e-5, atol=1e-6, what="case means")


def _cohort(rng, n, start):
    ids = [f"k{i}" for i in range(start, start + n)]
    y = rng.integers(0, 2, n)
    deep = pd.DataFrame(rng.normal(size=(n, 4)) + y[:, None] * 0.8, index=ids,
                        columns=[f"deep_{i}" for i in range(4)])
    clinical = pd.DataFrame({"pvtt": rng.integers(0, 2, n), "ast": rng.normal(40, 10, n) + 15 * y}, index=ids)
    return ids, y, deep, clinical


@pytest.mark.parametrize("kind", ["svm", "logistic"])
def test_fusion_is_fitted_on_training_and_evaluated_on_test(rng, kind):
    ids_tr, y_tr, d_tr, c_tr = _cohort(rng, 60, 0)
    ids_te, y_te, d_te, c_te = _cohort(rng, 40, 100)
    X_tr = join_features(d_tr, c_tr, ids_tr)
    X_te = join_features(d_te, c_te, ids_te)
    assert list(X_tr.columns) == ["deep_0", "deep_1", "deep_2", "deep_3", "pvtt", "ast"]
    res = evaluate_fusion(X_tr, y_tr, X_te, y_te, kind=kind)
    ref = auc_ci(y_te, res.test_scores.to_numpy())
    assert_close([res.test_auc.auc, res.test_auc.lower], [ref.auc, ref.lower], rtol=1e-12, atol=0,
                 what="test AUC via hccrad.evaluate")
    X = X_tr.to_numpy(dtype=float)
    s_tr = res.model.predict_proba(X)[:, 1] if kind == "logistic" else res.model.decision_function(X)
    assert res.threshold == youden_threshold(y_tr, s_tr)   # cut-off from the training cohort only
    assert res.test_auc.auc > 0.8
    s = res.summary()
    assert set(s["metric"]) >= {"auc", "sensitivity", "specificity", "ppv", "npv"}
    again = evaluate_fusion(X_tr, y_tr, X_te, y_te, kind=kind)
    assert_close(again.test_scores.to_numpy(), res.test_scores.to_numpy(), rtol=0, atol=0, what="deterministic refit")


def test_join_errors(rng):
    ids, _, deep, clinical = _cohort(rng, 5, 0)
    with pytest.raises(DataError, match="missing from the clinical"):
        join_features(deep, clinical.iloc[:3], ids)
    bad = clinical.assign(ast=[1.0, np.nan, 2.0, 3.0, 4.0])
    with pytest.raises(DataError, match="missing values"):
        join_features(deep, bad, ids)
    with pytest.raises(DataError, match="non-numeric"):
        join_features(deep, clinical.assign(sex=list("MFMFM")), ids)
    with pytest.raises(DataError, match="unknown fusion"):
        evaluate_fusion(deep, [0, 1, 0, 1, 0], deep, [0, 1, 0, 1, 0], kind="tree")


def test_end_to_end_cnn_score_and_deep_features_fused_with_clinical():
    """Cases → 2-D slices → CV (out-of-fold CNN score) + train/test → fusion with clinical → test AUC."""
    from hccrad.deep import NetworkSpec, Task, TrainConfig, build_patches, cnn_scores, cross_validate, train_test

    from .conftest import WINDOWS, make_cohort

    tr, y_tr, _ = make_cohort(24, 31, "tr")
    te, y_te, _ = make_cohort(16, 41, "te")
    kw = dict(mode="2d", size=(16, 16), k=2, windows=WINDOWS)
    p_tr, p_te = build_patches(tr, ["pre", "arterial"], **kw), build_patches(te, ["pre", "arterial"], **kw)
    spec = NetworkSpec("resnet", 2, (Task("response"),), spatial_dims=2, width=4)
    cfg = TrainConfig(epochs=8, batch_size=8, lr=0.01, early_stopping_patience=None)
    targets = {"response": np.repeat(y_tr, 2)}
    cv = cross_validate(spec, p_tr, targets, cfg, n_splits=3, val_fraction=None)
    tt = train_test(spec, p_tr, targets, p_te, cfg, val_fraction=None)
    rng = np.random.default_rng(0)
    ids_tr, ids_te = [c.case_id for c in tr], [c.case_id for c in te]

    def clinical(ids):
        return pd.DataFrame({"age": rng.normal(55, 10, len(ids)), "pvtt": rng.integers(0, 2, len(ids))}, index=ids)

    c_tr, c_te = clinical(ids_tr), clinical(ids_te)
    score = evaluate_fusion(join_features(cnn_scores(cv.predictions), c_tr, ids_tr), y_tr,
                            join_features(cnn_scores(tt.test_predictions), c_te, ids_te), y_te, kind="logistic")
    assert score.features == ("cnn_response", "age", "pvtt")
    assert score.test_auc.auc > 0.9
    deep = evaluate_fusion(join_features(tt.train_features, c_tr, ids_tr), y_tr,
                           join_features(tt.test_features, c_te, ids_te), y_te, kind="svm")
    assert len(deep.features) == tt.train_features.shape[1] + 2 and deep.test_auc.auc > 0.9
    with pytest.raises(DataError, match="several rows"):
        cnn_scores(pd.concat([cv.predictions, cv.predictions]))
