"""Reading and writing images and masks; de-identification on ingest."""

from hccrad.io.deid import deidentify, pseudonym
from hccrad.io.dicom import list_series, read_dicom_series
from hccrad.io.geometry import check_geometry
from hccrad.io.ingest import IngestResult, ingest_folder
from hccrad.io.masks import read_mask
from hccrad.io.volume import read_image, write_image

__all__ = [
    "IngestResult", "check_geometry", "deidentify", "ingest_folder", "list_series", "pseudonym",
    "read_dicom_series", "read_image", "read_mask", "write_image",
]
