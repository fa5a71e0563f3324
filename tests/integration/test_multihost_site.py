# -*- coding: utf-8 -*-
"""lago.lago.site on an inventory with hypervisors (docs/MULTIHOST.md: not supported yet) is refused
before anything is made, naming the group, its hypervisors and, when asked, the reposetup variables;
nothing is left on the controller or on any hypervisor."""

from __future__ import absolute_import, division, print_function

import os

import pytest

from ansible_collections.lago.lago.plugins.module_utils import subnet_lease
from test_multihost_prefix import mh_vars, pinned_demo, play, ssh

pytestmark = [pytest.mark.lab]


@pytest.mark.parametrize('reposetup', [False, True])
def test_site_on_a_multihost_inventory_is_refused_with_nothing_made(hypervisors, lab_host_dirs, tmp_path, unique_name,
                                                                    reposetup):
    inventory, _addresses = hypervisors
    work = pinned_demo(tmp_path)
    extra = mh_vars(lab_host_dirs, 'http://192.168.250.1:9/repo.json', unique_name)
    if reposetup:
        repo = os.path.join(work, 'repo.list')
        with open(repo, 'w') as handle:
            handle.write('deb http://deb.example/ stable main\n')
        extra['reposetup_repo_file'] = repo
    os.makedirs(lab_host_dirs['lease_dir'], exist_ok=True)
    before = subnet_lease.list_leases(lab_host_dirs['lease_dir'])
    run = play('site', extra, inventory, work)
    assert run.rc != 0, run.stdout[-3000:]
    message = ' '.join(run.stdout.split())
    assert 'lago.lago.site does not support a multi-host prefix yet: the inventory has the group lago_hypervisors ' \
           '(hv1, hv2)' in message, run.stdout[-3000:]
    assert ('Nor reposetup (reposetup_repo_file, ' in message) is reposetup, run.stdout[-3000:]
    recap = run.recap()
    assert set(recap) == {'localhost'} and recap['localhost']['changed'] == 0, recap
    assert not os.path.exists(os.path.join(work, '.lago'))
    assert subnet_lease.list_leases(lab_host_dirs['lease_dir']) == before
    for host in ('hv1', 'hv2'):
        assert ssh(host, 'test', '-e', extra['lago_hypervisor_prefix_path']).returncode != 0, host
