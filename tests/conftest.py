# -*- coding: utf-8 -*-
"""Fixtures shared by unit and lab tests.

Lab tests (marker ``lab``) need the lab: run them through ``hack/lab exec``
(``hack/lab test`` does). Outside the lab they are skipped, unless
LAGO_LAB_REQUIRED=1 (set by the test suite), where a missing lab fails them:
CI must never pass by skipping the real tests.
"""

from __future__ import absolute_import, division, print_function

import os
import shutil
import subprocess
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _lab_problem():
    if not os.environ.get('LAGO_LAB'):
        return 'not inside the lab (run through hack/lab exec)'
    try:
        import libvirt  # noqa: F401
    except ImportError:
        return 'libvirt-python is missing'
    rc = subprocess.call(['virsh', '-q', '-c', 'qemu:///system', 'uri'],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if rc != 0:
        return 'libvirtd does not answer on qemu:///system'
    return None


# Lab runs keep pytest's temporary directories here, each 0711: with a stock libvirt qemu runs
# as libvirt-qemu and must pass through every directory above a VM's images. pytest's default
# (/tmp/pytest-of-root, 0700, reset to 0700 by every pytest session on the host) would block it.
LAB_TMP_ROOT = '/var/tmp/lago-tests'


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    if not os.environ.get('LAGO_LAB') or config.option.basetemp:
        return
    os.makedirs(LAB_TMP_ROOT, exist_ok=True)
    os.chmod(LAB_TMP_ROOT, 0o711)
    config.option.basetemp = os.path.join(LAB_TMP_ROOT, '%s-%d' % (os.environ['LAGO_LAB'], os.getpid()))
    config.lab_basetemp = config.option.basetemp


def pytest_sessionstart(session):
    """Make every directory pytest's tmp_path factory hands out searchable (0711) in lab runs."""
    factory = getattr(session.config, '_tmp_path_factory', None)
    if not getattr(session.config, 'lab_basetemp', None) or factory is None:
        return
    mktemp = factory.mktemp

    def searchable_mktemp(basename, numbered=True):
        path = mktemp(basename, numbered=numbered)
        for directory in (path.parent, path):
            os.chmod(str(directory), 0o711)
        return path
    factory.mktemp = searchable_mktemp


def pytest_unconfigure(config):
    if getattr(config, 'lab_basetemp', None):
        shutil.rmtree(config.lab_basetemp, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    if not any('lab' in item.keywords for item in items):
        return
    problem = _lab_problem()
    if problem is None:
        return
    if os.environ.get('LAGO_LAB_REQUIRED') == '1':
        raise pytest.UsageError('LAGO_LAB_REQUIRED=1 but the lab is not usable: %s' % problem)
    for item in items:
        if 'lab' in item.keywords:
            item.add_marker(pytest.mark.skip(reason='lab test: %s' % problem))


@pytest.fixture(scope='session')
def libvirt_uri():
    return 'qemu:///system'


@pytest.fixture(scope='session')
def lab_template_repo():
    """Path of the lab's template repository JSON (built by hack/lab template)."""
    path = os.environ.get('LAGO_LAB_TEMPLATE_REPO')
    if not path or not os.path.exists(path):
        pytest.fail('LAGO_LAB_TEMPLATE_REPO is not set or missing (%r): run hack/lab template' % path)
    return path


@pytest.fixture
def unique_name():
    """A short name unique to this test, safe for libvirt objects and bridges."""
    return 'lt%s' % uuid.uuid4().hex[:6]


@pytest.fixture
def lab_dir(tmp_path_factory):
    """A scratch directory for lab artefacts, removed after the test."""
    path = tmp_path_factory.mktemp('lab')
    yield str(path)
    shutil.rmtree(str(path), ignore_errors=True)


@pytest.fixture(scope='session')
def lab_template_image(lab_template_repo):
    """Path of the lab template's qcow2 image (the newest debian12 in the lab repository)."""
    from lablib import template_image
    return template_image(lab_template_repo)
