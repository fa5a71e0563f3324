# -*- coding: utf-8 -*-
"""Fixtures of the module tests (helpers live in module_helpers.py)."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.lago.lago.tests.unit.plugins.modules.module_helpers import UUID, Repo


@pytest.fixture
def repo(tmp_path):
    return Repo(str(tmp_path / 'repo'))


@pytest.fixture
def owner(tmp_path):
    """A prefix's uuid file."""
    path = tmp_path / 'uuid'
    path.write_text(UUID)
    return str(path)
