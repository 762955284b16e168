"""Study configuration: pydantic models (`spec`) and YAML loading with line-numbered errors (`load`)."""

from hccrad.config.load import dump_spec, load_spec, parse_spec
from hccrad.config.spec import StudySpec

__all__ = ["StudySpec", "dump_spec", "load_spec", "parse_spec"]
