# -*- coding: utf-8 -*-
"""Fixtures of the storage lab tests (helpers live in storage_lab.py)."""

from __future__ import absolute_import, division, print_function

import pytest

from storage_lab import build_lab


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    """A repository served over HTTP on 127.0.0.1 for the whole test module."""
    served = build_lab(str(tmp_path_factory.mktemp('repo')))
    try:
        yield served
    finally:
        served.server.shutdown()
        served.server.server_close()


@pytest.fixture
def store(tmp_path):
    return str(tmp_path / 'store')
