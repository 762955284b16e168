"""Preprocessing: registration, resampling, N4, normalisation, discretisation, liver shell."""

from hccrad.preprocess.intensity import discretise, n4_bias_correction, normalise
from hccrad.preprocess.pipeline import PreprocessSteps, preprocess_case, steps_record
from hccrad.preprocess.register import RegistrationRecord, normalised_cross_correlation, register_to_reference
from hccrad.preprocess.resample import resample_isotropic, resample_to_reference
from hccrad.preprocess.shell import liver_shell
from hccrad.preprocess.steps import GridIntensitySteps, process_case

__all__ = [
    "GridIntensitySteps", "PreprocessSteps", "RegistrationRecord", "discretise", "liver_shell", "n4_bias_correction",
    "normalise", "normalised_cross_correlation", "preprocess_case", "process_case", "register_to_reference",
    "resample_isotropic", "resample_to_reference", "steps_record",
]
