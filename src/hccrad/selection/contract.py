"""The scikit-learn estimator contract for hccrad's estimators: parameter validation and binary-target tags.

scikit-learn checks an estimator's constructor parameters against its ``_parameter_constraints`` (a dict
{parameter: list of allowed types, ``Interval``\\s or ``StrOptions``}) when ``fit`` starts, and raises
``InvalidParameterError`` (a ``ValueError`` and ``TypeError``) with the message "The 'p' parameter of
Est must be ... Got ... instead." (scikit-learn developer guide, "Parameter validation").
:func:`validate_params` runs the same check one parameter at a time and raises :class:`ParameterError`,
which is both that scikit-learn error and hccrad's :class:`~hccrad.core.errors.ModelError`, so it names
the parameter (``field``) and how to fix it, and ``except ModelError`` / ``except ValueError`` both catch it.

:func:`binary_target_tags` declares in the estimator tags that ``fit`` needs ``y`` and that ``y`` has exactly
two classes (``tags.classifier_tags.multi_class = False``), so ``sklearn.utils.estimator_checks`` feeds
binary targets (every hccrad outcome model and supervised selection step is binary by design).
"""

from __future__ import annotations

from sklearn.utils import ClassifierTags, Tags
from sklearn.utils._param_validation import InvalidParameterError, validate_parameter_constraints

from hccrad.core.errors import DataError, ModelError


class ParameterError(ModelError, InvalidParameterError):
    """An estimator parameter has a wrong type or value (scikit-learn's message, the field and a hint)."""


def validate_params(estimator) -> None:
    """Check every constructor parameter of ``estimator`` against its ``_parameter_constraints``."""
    name = type(estimator).__name__
    constraints = estimator._parameter_constraints
    for param, value in estimator.get_params(deep=False).items():
        try:
            validate_parameter_constraints({param: constraints[param]}, {param: value}, caller_name=name)
        except InvalidParameterError as exc:
            raise ParameterError(str(exc), field=param,
                                 hint=f"set {param!r} to one of the allowed values named above") from None


def binary_target_tags(tags: Tags, *, requires_y: bool = True) -> Tags:
    """``tags`` of an estimator whose ``fit`` takes a binary ``y`` (``requires_y``: ``y`` is mandatory)."""
    tags.target_tags.required = requires_y
    if tags.classifier_tags is None:
        tags.classifier_tags = ClassifierTags()
    tags.classifier_tags.multi_class = False
    return tags


def not_binary(who: str, n_classes: int) -> DataError:
    """The error for an outcome without exactly two classes (with scikit-learn's wording for binary-only
    estimators, "Only binary classification is supported.")."""
    return DataError(f"{who}: Only binary classification is supported. The outcome must have exactly two "
                     f"classes, found {n_classes} class{'' if n_classes == 1 else 'es'}",
                     hint="check the outcome column (binary response, e.g. OR vs non-OR)")
