"""Reading and writing images and masks; de-identification on ingest."""

from hccrad.io.volume import read_image, write_image

__all__ = ["read_image", "write_image"]
