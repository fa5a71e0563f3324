# -*- coding: utf-8 -*-
"""Fixtures for prefix lab tests: one lease directory and template store for
the session (as on a real host), init files written per test."""

from __future__ import absolute_import, division, print_function

import shutil
import textwrap

import pytest


@pytest.fixture(scope='session')
def lab_host_dirs(tmp_path_factory):
    base = tmp_path_factory.mktemp('lago-host')
    dirs = dict(lease_dir=str(base / 'subnets'), template_store=str(base / 'store'))
    yield dirs
    shutil.rmtree(str(base), ignore_errors=True)


@pytest.fixture
def prefix_vars(lab_host_dirs, lab_template_repo, tmp_path):
    """Extra vars for the verb playbooks, one prefix per test."""
    return dict(lago_prefix_path=str(tmp_path / 'prefix'), lago_template_repo=lab_template_repo,
                lago_template_store=lab_host_dirs['template_store'], lago_lease_dir=lab_host_dirs['lease_dir'],
                lago_virt_type='qemu')


@pytest.fixture
def write_init_file(tmp_path):
    def write(text, name='LagoInitFile'):
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return str(path)
    return write
