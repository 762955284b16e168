"""The radiogenomics section of a study spec (pydantic; unknown keys are errors).

`StudySpec` can hold ``radiogenomics: RadiogenomicsSpec | None``; the pipeline then calls
`run_radiogenomics` with these inputs. Relative paths are resolved by the spec loader like every other path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hccrad.radiogenomics.genesets import BUNDLED
from hccrad.radiogenomics.pipeline import RadiogenomicsConfig


class RadiogenomicsSpec(BaseModel):
    """Inputs of the radiogenomics stage (seed 004).

    counts: raw-count table (CSV/TSV/Parquet; see `read_counts`). scores: per-patient score table with
    `settings.score_column`; None = the scores of the study's fitted model. clinical: None = the study's
    clinical table. cutoff: a number, "model" (the fitted model's training cut-off) or "maxstat".
    gene_sets: bundled library names or local ``.gmt`` paths (never a remote library name).
    signatures: ``.gmt`` files for ssGSEA (e.g. Charoentong's 28 immune cell types, a TLS signature).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    counts: Path
    scores: Path | None = None
    clinical: Path | None = None
    id_column: str = "patient_id"
    cutoff: float | Literal["model", "maxstat"] = "model"
    gene_sets: list[str] = Field(default_factory=lambda: ["GO_Biological_Process_2023"])
    signatures: list[Path] = Field(default_factory=list)
    settings: RadiogenomicsConfig = Field(default_factory=RadiogenomicsConfig)
    seed: int = 0

    @field_validator("gene_sets")
    @classmethod
    def _local_only(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if v not in BUNDLED and not v.lower().endswith(".gmt")]
        if bad:
            raise ValueError(f"gene sets {bad} are neither bundled ({sorted(BUNDLED)}) nor .gmt files; "
                             "remote libraries are never fetched")
        return value

    @field_validator("signatures")
    @classmethod
    def _gmt_only(cls, value: list[Path]) -> list[Path]:
        bad = [str(v) for v in value if v.suffix.lower() != ".gmt"]
        if bad:
            raise ValueError(f"signature files must be .gmt: {bad}")
        return value
