"""`python -m hccrad ...`: the same command line as the `hccrad` console script (hccrad.cli)."""

from hccrad.cli import entry

if __name__ == "__main__":
    entry()
