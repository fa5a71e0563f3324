# -*- coding: utf-8 -*-
"""disk_export: naming, refusals, and the export plan on real qemu-img images."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.lago.lago.plugins.module_utils import disk_export
from ansible_collections.lago.lago.plugins.module_utils.errors import DiskError


@pytest.mark.parametrize('backing, name', [
    ('/var/lib/lago/store/lab:debian12:v2', './debian12:v2'),
    ('/images/golden.qcow2', './golden.qcow2'),
])
def test_layered_exports_name_their_backing_file_as_lago_does(backing, name):
    assert disk_export._relative_backing_name(backing) == name


def test_export_destination(tmp_path):
    assert disk_export.export_destination('/p/vm.qcow2', str(tmp_path)) == str(tmp_path / 'vm.qcow2')
    assert disk_export.export_destination('/p/vm.qcow2', '/x/out.qcow2') == '/x/out.qcow2'


def test_check_export_refuses_impossible_exports(tmp_path):
    with pytest.raises(DiskError, match='qcow2'):
        disk_export.check_export('/p/d', '/x/d', compress=True, fmt='raw')
    with pytest.raises(DiskError, match='onto itself'):
        disk_export.check_export(str(tmp_path / 'd'), str(tmp_path / '.' / 'd'), compress=False, fmt='qcow2')
