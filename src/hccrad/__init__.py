"""hccrad: habitat radiomics, models and paper-grade evaluation for hepatocellular carcinoma."""

__version__ = "0.1.0"
