# -*- coding: utf-8 -*-
"""The figures of the fault and concurrency tests (faultlib.FIGURES): one summary line per
part at the end of the run, and tests/output/faults.json (merged with earlier runs, so
running one file at a time keeps the other's figures)."""

from __future__ import absolute_import, division, print_function

import json
import os

import pytest

from faultlib import FIGURES, REPO

OUTPUT = os.path.join(REPO, 'tests', 'output', 'faults.json')


@pytest.fixture(scope='session')
def figures():
    """figures(section) -> a dict of counters for that part of the suite."""
    def section(name, **start):
        return FIGURES.setdefault(name, dict(start))
    return section


def pytest_terminal_summary(terminalreporter):
    if not FIGURES:
        return
    for name, counts in sorted(FIGURES.items()):
        terminalreporter.write_line('lago faults [%s]: %s' % (name, ', '.join('%s=%s' % item for item in sorted(counts.items()))))
    saved = {}
    if os.path.exists(OUTPUT):
        with open(OUTPUT) as handle:
            saved = json.load(handle)
    saved.update(FIGURES)
    os.makedirs(os.path.dirname(OUTPUT), exist_ok=True)
    with open(OUTPUT, 'w') as handle:
        json.dump(saved, handle, indent=2, sort_keys=True)
    terminalreporter.write_line('lago faults: figures written to %s' % OUTPUT)
