"""Issue 25: an import inside a function of hccrad is allowed only for an optional or heavy dependency (torch,
pydeseq2, dask.distributed, ...) or CLI start-up, and must say why in a `# lazy: <why>` comment (on the import,
or on the comment line(s) just above a run of imports). AST only: tools/architecture_report.py does the scan."""

import ast

import pytest


@pytest.fixture(scope="module")
def report(repo_tool):
    return repo_tool("architecture_report")


def test_every_import_inside_a_function_says_why_it_is_lazy(report):
    unmarked = report.unmarked_lazy_imports()
    assert not unmarked, ("imports inside functions need a '# lazy: <why>' comment (optional/heavy dependency, "
                          "CLI start-up), or belong at the top of the module:\n"
                          + "\n".join(f"  {f}:{n}: {t}" for f, n, t in unmarked))


SAMPLE = '''
import os


def marked_on_the_line():
    import torch  # lazy: optional heavy dependency
    return torch


def marked_above_a_run():
    # lazy: optional heavy dependency (pydeseq2)
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.ds import DeseqStats

    return DeseqDataSet, DeseqStats


def unmarked():
    import json
    return json


def comment_does_not_reach_past_code():
    # lazy: optional
    import gseapy  # the comment above covers this one
    x = 1
    import difflib
    return gseapy, x, difflib


class Holder:
    def method(self):
        if True:
            from collections import OrderedDict
        return OrderedDict
'''


def test_the_scan_finds_exactly_the_unmarked_ones(report):
    lines = SAMPLE.splitlines()
    found = [lines[s.lineno - 1].strip() for s in report._imports_in_functions(ast.parse(SAMPLE), lines)]
    assert found == ["import json", "import difflib", "from collections import OrderedDict"]
