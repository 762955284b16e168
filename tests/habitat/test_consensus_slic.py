"""Issue 23: the consensus rule for k (elbow/silhouette, else bootstrap stability) and SLIC supervoxels."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from sklearn.metrics import adjusted_rand_score

from hccrad.core.errors import FeatureError
from hccrad.habitat import KSelection, TwoStepHabitats, choose_k
from hccrad.habitat.kselect import bootstrap_votes

NAMES = ["AE", "VE"]
SPACING = (2.0, 0.8, 0.8)   # conftest.make_case, array axis order


def _blobs(n_per=300, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [3.0, 6.0]])
    return np.concatenate([c + rng.normal(size=(n_per, 2)) for c in centres])


def test_consensus_picks_planted_k_and_reports_every_index():
    X = _blobs()
    groups = np.tile(np.arange(9), 100)      # nine "cases", each holding voxels of every cluster
    ks = choose_k(X, (2, 6), rule="consensus", groups=groups, n_bootstrap=8, stability_sample=400)
    assert ks.k == 3 and ks.rule == "consensus" and ks.n_bootstrap == 8
    assert ks.stability is not None and len(ks.stability) == 5
    assert ks.stability[1] == max(ks.stability) and ks.stability[1] >= 0.75, ks.stability
    assert abs(sum(ks.stability) - 1.0) < 1e-12
    s = ks.summary()
    assert {"inertia", "silhouette", "stability", "is_elbow", "is_chosen"} <= set(s.columns)
    assert "bootstrap" in ks.method and "k = 3" in str(ks)
    assert KSelection.from_dict(ks.to_dict()) == ks
    # the default rule is unchanged and carries no stability column
    assert "stability" not in choose_k(X, (2, 6)).summary().columns


def test_consensus_falls_back_to_the_most_stable_k_when_elbow_and_silhouette_differ(monkeypatch):
    import hccrad.habitat.kselect as ksel

    class _Knee:   # force an elbow at 5 so the two indices disagree
        def __init__(self, *a, **k):
            self.knee = 5

    monkeypatch.setattr(ksel, "KneeLocator", _Knee)
    ks = choose_k(_blobs(), (2, 6), rule="consensus", n_bootstrap=6, stability_sample=300)
    assert ks.elbow_k == 5 and ks.silhouette_k == 3
    assert ks.k == 3 == ks.ks[int(np.argmax(ks.stability))]
    assert choose_k(_blobs(), (2, 6)).k == 5          # the elbow rule keeps the elbow


def test_bootstrap_votes_seeded_and_rule_errors():
    X = _blobs(n_per=100)
    a = bootstrap_votes(X, (2, 3, 4), n_bootstrap=4, stability_sample=200, random_state=1)
    b = bootstrap_votes(X, (2, 3, 4), n_bootstrap=4, stability_sample=200, random_state=1)
    assert np.array_equal(a, b)
    with pytest.raises(FeatureError, match="k rule"):
        choose_k(X, (2, 4), rule="gap")
    with pytest.raises(FeatureError, match="groups"):
        choose_k(X, (2, 4), rule="consensus", groups=np.zeros(3))


@pytest.fixture(scope="module")
def spatial_cohort(cohort, cohort_X):
    Xs, ts = cohort_X
    coords = [np.argwhere(mask) for _, mask, _ in cohort]
    return Xs, ts, coords, [m.shape for _, m, _ in cohort]


def _slic_model(**kw):
    return TwoStepHabitats(n_habitats=3, order_by="AE", descriptor_names=NAMES, n_supervoxels=40,
                           supervoxels="slic", compactness=0.1, **kw)


def test_slic_supervoxels_are_connected_and_planted_habitats_recovered(spatial_cohort):
    Xs, ts, coords, shapes = spatial_cohort
    model = _slic_model().fit(Xs[:4], coords=coords[:4], spacings=[SPACING] * 4)
    S = model.scaler_.transform(Xs[4])
    _, member = model._supervoxels(S, coords[4], SPACING)
    assert 10 <= member.max() + 1 <= 80
    connected = 0
    for m in range(member.max() + 1):
        vol = np.zeros(shapes[4], dtype=bool)
        c = coords[4][member == m]
        vol[c[:, 0], c[:, 1], c[:, 2]] = True
        connected += ndimage.label(vol)[1] == 1
    assert connected / (member.max() + 1) >= 0.9
    for X, t, c in zip(Xs[4:], ts[4:], coords[4:]):
        ari = adjusted_rand_score(t, model.predict(X, coords=c, spacing=SPACING))
        assert ari >= 0.8, f"SLIC two-step ARI {ari:.3f} < 0.8"
    # JSON round trip keeps the spatial parameters and the predictions
    again = TwoStepHabitats.from_json(model.to_json())
    assert again.supervoxels == "slic" and again.compactness == 0.1
    assert np.array_equal(again.predict(Xs[5], coords=coords[5], spacing=SPACING),
                          model.predict(Xs[5], coords=coords[5], spacing=SPACING))


def test_slic_needs_coordinates(spatial_cohort):
    Xs, _, coords, _ = spatial_cohort
    with pytest.raises(FeatureError, match="coords"):
        _slic_model().fit(Xs[:2])
    model = _slic_model().fit(Xs[:2], coords=coords[:2], spacings=[SPACING] * 2)
    with pytest.raises(FeatureError, match="coords"):
        model.predict(Xs[3])
    with pytest.raises(FeatureError, match="compactness"):
        _slic_model().set_params(compactness=0).fit(Xs[:2], coords=coords[:2], spacings=[SPACING] * 2)


def test_k_selection_figure_shows_the_stability_curve_and_rule():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hccrad.report.figures.habitat import plot_k_selection

    ks = choose_k(_blobs(n_per=100), (2, 4), rule="consensus", n_bootstrap=3, stability_sample=200)
    fig = plt.figure()
    plot_k_selection(fig, ks)
    ax_i, ax_s = fig.axes[:2]
    labels = [line.get_label() for line in ax_s.get_lines()]
    assert any(lbl.startswith("stability (share of 3 bootstrap votes") for lbl in labels), labels
    assert "consensus" in ax_i.get_title()
    plt.close(fig)
