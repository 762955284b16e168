"""Write an `Image` as a DICOM CT series (one uncompressed file per slice) with pydicom.

Used to export volumes to viewers/PACS and to build test and benchmark data. Slice k is placed at
IPP_k = origin + k · s_z · n (n the third column of the direction matrix); ImageOrientationPatient holds
the first two columns; values are stored as signed 16-bit integers with RescaleSlope 1 and
RescaleIntercept 0 (so stored values are Hounsfield units).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID, generate_uid

from hccrad.core.errors import InputError
from hccrad.core.image import Image


def write_dicom_series(image: Image, folder: str | Path, *, series_description: str = "",
                       patient_name: str = "ANONYMOUS^", patient_id: str = "ANONYMOUS",
                       patient_birth_date: str = "", study_uid: str | None = None,
                       frame_of_reference_uid: str | None = None, series_number: int = 1,
                       file_prefix: str = "IM") -> list[Path]:
    """Write one file per z-slice into `folder`; returns the paths. Values are rounded to int16."""
    arr = np.asarray(image.array)
    if np.any(~np.isfinite(arr)):
        raise InputError("cannot write NaN/inf voxels to DICOM", field=image.name, hint="fill them first")
    if arr.min() < -32768 or arr.max() > 32767:
        raise InputError("values outside the int16 range", field=image.name, hint="rescale the image first")
    data = np.round(arr).astype(np.int16)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    d = np.asarray(image.direction, float).reshape(3, 3)
    row, col, normal = d[:, 0], d[:, 1], d[:, 2]
    sz, sy, sx = image.spacing
    study_uid = study_uid or generate_uid()
    series_uid = generate_uid()
    for_uid = frame_of_reference_uid or generate_uid()
    paths = []
    for k in range(data.shape[0]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        ds = pydicom.Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.Modality = "CT"
        ds.PatientName = patient_name
        ds.PatientID = patient_id
        ds.PatientBirthDate = patient_birth_date
        ds.PatientSex = ""
        ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "", "", "", ""
        ds.ReferringPhysicianName = ""
        ds.Manufacturer = "hccrad"
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.FrameOfReferenceUID = for_uid
        ds.SeriesDescription = series_description
        ds.SeriesNumber = series_number
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [float(v) for v in np.asarray(image.origin) + k * sz * normal]
        ds.ImageOrientationPatient = [float(v) for v in (*row, *col)]
        ds.PixelSpacing = [float(sy), float(sx)]
        ds.SliceThickness = float(sz)
        ds.Rows, ds.Columns = int(data.shape[1]), int(data.shape[2])
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        ds.RescaleIntercept = 0
        ds.RescaleSlope = 1
        ds.PixelData = data[k].tobytes()
        path = folder / f"{file_prefix}{k:05d}.dcm"
        ds.save_as(str(path), enforce_file_format=True)
        paths.append(path)
    return paths
