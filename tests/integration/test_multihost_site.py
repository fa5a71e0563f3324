# -*- coding: utf-8 -*-
"""lago.lago.site on an inventory with hypervisors (docs/MULTIHOST.md): the demo init file with web01 on
hv1 and db01 on hv2, from a scratch directory with relative paths, completes (init, start, deploy,
collect, destroy) with the deploy's logs collected and nothing left on the controller or on any
hypervisor; with reposetup or lago_warm asked it is refused before anything is made, naming them."""

from __future__ import absolute_import, division, print_function

import json
import os

import pytest

from ansible_collections.lago.lago.plugins.module_utils import subnet_lease
from test_multihost_prefix import http_repo, leftovers, mh_vars, pinned_demo, play, ssh, _remove_parts  # noqa: F401 pylint: disable=unused-import

pytestmark = [pytest.mark.lab]

SSH_BUDGET = 300  # lago_ssh_timeout: the controller's wait for each VM in start


@pytest.mark.slow
@pytest.mark.timeout(SSH_BUDGET + 900)  # start's wait, and the playbook around it
def test_site_on_a_multihost_prefix_completes_and_leaves_nothing(hypervisors, lab_host_dirs, http_repo, tmp_path,  # noqa: F811
                                                                 unique_name):
    inventory, _addresses = hypervisors
    work = pinned_demo(tmp_path)
    extra = dict(mh_vars(lab_host_dirs, http_repo, unique_name), lago_collect_output='collected')
    os.makedirs(lab_host_dirs['lease_dir'], exist_ok=True)
    before = subnet_lease.list_leases(lab_host_dirs['lease_dir'])
    prefix = os.path.join(work, '.lago')
    short_id = None
    try:
        run = play('site', extra, inventory, work)
        assert run.rc == 0, run.output[-4000:]
        recap = run.recap()
        assert recap['hv1']['changed'] and recap['hv2']['changed'], recap
        assert recap['web01']['changed'] and recap['db01']['changed'], recap
        for name in ('web01', 'db01'):
            with open(os.path.join(work, 'collected', name, '_var_log_lago-demo.log')) as handle:
                log = handle.read()
            assert log.startswith('deployed on %s' % name) and 'prefix: %s\n' % prefix in log, log
    finally:
        if os.path.exists(os.path.join(prefix, 'state.json')):
            short_id = json.load(open(os.path.join(prefix, 'state.json')))['short_id']
            play('destroy', extra, inventory, work)
        _remove_parts(inventory, extra['lago_hypervisor_prefix_path'], short_id)
    for host in ('hv1', 'hv2'):
        assert leftovers(host, short_id or 'lago-none', extra['lago_hypervisor_prefix_path']) == [], host
    assert not os.path.exists(prefix)
    assert subnet_lease.list_leases(lab_host_dirs['lease_dir']) == before


@pytest.mark.parametrize('asked, refusal', [
    ('reposetup', 'lago.lago.site does not support reposetup on a multi-host prefix yet: the inventory has the group '
                  'lago_hypervisors (hv1, hv2) and reposetup (reposetup_repo_file, '),
    ('lago_warm', 'lago.lago.site does not support lago_warm on a multi-host prefix yet: the inventory has the group '
                  'lago_hypervisors (hv1, hv2) and the warm-lab cache saves and resumes VMs on this host only'),
])
def test_site_with_reposetup_or_warm_on_a_multihost_inventory_is_refused_with_nothing_made(
        hypervisors, lab_host_dirs, tmp_path, unique_name, asked, refusal):
    inventory, _addresses = hypervisors
    work = pinned_demo(tmp_path)
    extra = mh_vars(lab_host_dirs, 'http://192.168.250.1:9/repo.json', unique_name)
    if asked == 'reposetup':
        repo = os.path.join(work, 'repo.list')
        with open(repo, 'w') as handle:
            handle.write('deb http://deb.example/ stable main\n')
        extra['reposetup_repo_file'] = repo
    else:
        extra['lago_warm'] = True
    os.makedirs(lab_host_dirs['lease_dir'], exist_ok=True)
    before = subnet_lease.list_leases(lab_host_dirs['lease_dir'])
    run = play('site', extra, inventory, work)
    assert run.rc != 0, run.stdout[-3000:]
    message = ' '.join(run.stdout.split())
    assert refusal in message, run.stdout[-3000:]
    recap = run.recap()
    assert set(recap) == {'localhost'} and recap['localhost']['changed'] == 0, recap
    assert not os.path.exists(os.path.join(work, '.lago'))
    assert subnet_lease.list_leases(lab_host_dirs['lease_dir']) == before
    for host in ('hv1', 'hv2'):
        assert ssh(host, 'test', '-e', extra['lago_hypervisor_prefix_path']).returncode != 0, host
