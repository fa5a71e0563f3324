# -*- coding: utf-8 -*-
"""A pool disk of a VM pinned to a hypervisor (docs/MULTIHOST.md): its local pool state is on that hypervisor."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.lago.lago.plugins.module_utils.errors import SpecError
from ansible_collections.lago.lago.plugins.module_utils.spec_normalize import normalize_spec


def _spec(tmp_path, **domain):
    vm = dict(nics=[{'net': 'lan'}], disks=[{'type': 'template', 'template_type': 'pool', 'path': 'pool/moved'}])
    vm.update(domain)
    return normalize_spec({'domains': {'vm01': vm}, 'nets': {'lan': {'management': True}}}, base_dir=str(tmp_path))


def test_a_pinned_vm_takes_a_local_pool_state_of_its_hypervisor_unchecked_here(tmp_path):
    spec = _spec(tmp_path, hypervisor='hv2')
    assert spec['domains']['vm01']['disks'][0]['path'] == str(tmp_path / 'pool' / 'moved')
    assert spec['domains']['vm01']['hypervisor'] == 'hv2'
    # the hypervisor's part gets the spec without the pin: checked there, where the state is
    part = dict(spec['domains']['vm01'])
    del part['hypervisor']
    with pytest.raises(SpecError, match=r'domains.vm01.disks\[0\].path: pool state .*/pool/moved does not exist'):
        normalize_spec({'domains': {'vm01': part}, 'nets': spec['nets']})


def test_an_unpinned_vm_s_local_pool_state_is_checked_here(tmp_path):
    with pytest.raises(SpecError, match=r'pool state .*/pool/moved does not exist'):
        _spec(tmp_path)
