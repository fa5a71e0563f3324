# -*- coding: utf-8 -*-
"""deploy and collect on a prefix across the lab's two hypervisors (docs/MULTIHOST.md): the demo's
deploy script runs on web01 (hv1) and db01 (hv2) from the controller, through the inventory's
ProxyCommand, and its log comes back with collect (each VM resolving both names over the one
DNS server of the lab net); destroy leaves nothing on any hypervisor."""

from __future__ import absolute_import, division, print_function

import json
import os

import pytest

from ansible_collections.lago.lago.plugins.module_utils import subnet_lease
from test_multihost_prefix import http_repo, leftovers, mh_vars, pinned_demo, play, _remove_parts  # noqa: F401 pylint: disable=unused-import

pytestmark = [pytest.mark.lab, pytest.mark.slow]

SSH_BUDGET = 300  # lago_ssh_timeout: the controller's wait for each VM in start


@pytest.mark.timeout(SSH_BUDGET + 900)  # start's wait, and the playbooks around it
def test_multihost_deploy_and_collect(hypervisors, lab_host_dirs, http_repo, tmp_path, unique_name):  # noqa: F811
    inventory, _addresses = hypervisors
    work = pinned_demo(tmp_path)
    extra = dict(mh_vars(lab_host_dirs, http_repo, unique_name), lago_collect_output='collected')
    os.makedirs(lab_host_dirs['lease_dir'], exist_ok=True)
    prefix = os.path.join(work, '.lago')
    short_id = None
    try:
        play('init', extra, inventory, work).check()
        state = json.load(open(os.path.join(prefix, 'state.json')))
        short_id = state['short_id']
        play('start', extra, inventory, work).check()
        deployed = play('deploy', extra, inventory, work).check()
        assert deployed.recap()['web01']['changed'] and deployed.recap()['db01']['changed'], deployed.stdout[-3000:]
        play('collect', extra, inventory, work).check()
        for name in ('web01', 'db01'):
            with open(os.path.join(work, 'collected', name, '_var_log_lago-demo.log')) as handle:
                log = handle.read()
            assert log.startswith('deployed on %s' % name) and 'prefix: %s\n' % prefix in log, log
            # the other VM (on the other hypervisor) by the net's one DNS server; its own name from /etc/hosts
            other = 'db01' if name == 'web01' else 'web01'
            resolved = dict((fields[-1], fields[0]) for fields in (line.split() for line in log.splitlines()[2:]))
            assert resolved.get('%s.lago.local' % other, resolved.get(other)) == state['vms'][other]['address'], log
            assert name in resolved or '%s.lago.local' % name in resolved, log
        play('destroy', extra, inventory, work).check()
    finally:
        play('destroy', extra, inventory, work)
        _remove_parts(inventory, extra['lago_hypervisor_prefix_path'], short_id)
    for host in ('hv1', 'hv2'):
        assert leftovers(host, short_id, extra['lago_hypervisor_prefix_path']) == [], host
    assert not os.path.exists(prefix)
    assert subnet_lease.leases_of(lab_host_dirs['lease_dir'], (os.path.join(prefix, 'uuid'), state['uuid'])) == []
