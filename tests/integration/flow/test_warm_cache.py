# -*- coding: utf-8 -*-
"""The warm-lab cache in site.yml (lago_warm): a cold run saves the deployed lab, the
next run resumes it running - the file its deploy script wrote is there, written once,
by the same boot of the guest - and destroy leaves nothing; a changed deploy script
changes the key; with a damaged entry the warm path says why, leaves nothing and lets
site go on cold."""

from __future__ import absolute_import, division, print_function

import json
import os
import shutil

import pytest
import yaml

from ansible_collections.lago.lago.plugins.module_utils import lab_cache, lease_owner, subnet_lease

from labrun import REPO, playbook
from prefixlib import leases, left_behind

pytestmark = [pytest.mark.lab, pytest.mark.slow]

ONE_VM = '''
domains:
  vm01:
    memory: 512
    vcpu: 1
    nics: [{net: lan}]
    disks:
      - {template_name: debian12, type: template, name: root, dev: vda, format: qcow2}
    metadata:
      deploy-scripts: [$LAGO_INITFILE_PATH/deploy.sh]
    artifacts: [/var/log/warm-deploy.log]
nets:
  lan: {type: nat, management: true}
'''
DEPLOY = '#!/bin/sh\necho "deployed %s $(cat /proc/sys/kernel/random/boot_id)" >> /var/log/warm-deploy.log\n'
LOCAL_TESTS = '''\
- name: Keep the prefix's state
  ansible.builtin.copy:
    src: "{{ lago_prefix_path }}/state.json"
    dest: "%s"
    mode: "0644"
'''
LIST_DOMAINS = '''\
- name: Keep the names of libvirt's domains
  ansible.builtin.shell: virsh -c qemu:///system list --all --name > %s
  changed_when: false
'''


WARM_PATH = '''\
- name: The warm path of site
  hosts: localhost
  gather_facts: false
  vars_files: [%(repo)s/playbooks/vars/lago_defaults.yml]
  tasks:
    - name: Look up, init on the entry, resume
      ansible.builtin.include_tasks: %(repo)s/playbooks/tasks/warm_start.yml
    - name: The lab is not warm
      ansible.builtin.assert:
        that: not lago_warm_resumed | default(false)
'''


def collection_version():
    with open(os.path.join(REPO, 'galaxy.yml')) as handle:
        return yaml.safe_load(handle)['version']


def deploy_log(output):
    with open(os.path.join(output, 'vm01', '_var_log_warm-deploy.log')) as handle:
        return handle.read().splitlines()


@pytest.mark.timeout(3600)  # two whole site runs (one cold), as test_readme's flows
def test_a_warm_site_resumes_the_deployed_lab_and_falls_back_to_cold(prefix_vars, write_init_file, tmp_path,
                                                                     lab_host_dirs, ansible_module):
    (tmp_path / 'deploy.sh').write_text(DEPLOY % 'v1')
    cache = str(tmp_path / 'cache')
    path = prefix_vars['lago_prefix_path']
    init_file = write_init_file(ONE_VM)

    def site(run):
        output = str(tmp_path / ('collected-%s' % run))
        kept = str(tmp_path / ('state-%s.json' % run))
        (tmp_path / 'local-tests.yml').write_text(LOCAL_TESTS % kept)
        extra = dict(prefix_vars, lago_init_file=init_file, lago_collect_output=output, lago_warm=True,
                     lago_cache_dir=cache, lago_test_local_tasks=str(tmp_path / 'local-tests.yml'))
        try:  # a whole site run; on a loaded 2-core host its cold boot alone can take many minutes
            result = playbook('site', extra, timeout=2400)
        finally:
            playbook('destroy', prefix_vars).check()
        result.check()
        with open(kept) as handle:
            state = json.load(handle)
        assert left_behind(path, state['short_id'], lab_host_dirs['lease_dir']) == dict(
            directory=False, leases=[], libvirt=[], processes=[]), 'destroy leaves nothing of the lab'
        return result, deploy_log(output), state

    cold, cold_log, cold_state = site('cold')
    assert 'warm-lab cache: no complete entry' in cold.output
    assert len(cold_log) == 1 and cold_log[0].startswith('deployed v1')
    listed = lab_cache.entries(cache)
    assert [item['complete'] for item in listed] == [True] and listed[0]['vms'] == ['vm01']
    key = listed[0]['key']
    assert lab_cache.problems(cache, key) == []

    warm, warm_log, warm_state = site('warm')
    assert 'warm-lab cache: resumed from entry %s' % key in warm.output, warm.output[-3000:]
    assert warm_log == cold_log, 'the deploy did not run again: its file is there, from the same boot of the guest'
    assert warm_state['short_id'] != cold_state['short_id']
    assert warm_state['vms']['vm01']['address'] == cold_state['vms']['vm01']['address']
    assert warm_state['nets']['lan']['subnet'] == cold_state['nets']['lan']['subnet']

    # Another deploy script: another key, no hit (nothing is booted to tell).
    def query():
        return ansible_module('lago.lago.lago_lab_cache', dict(
            cache_dir=cache, init_file=init_file, prefix=path, template_repo=prefix_vars['lago_template_repo'],
            collection_version=collection_version()))
    same = query()
    assert (same['key'], same['hit']) == (key, True), 'the key site.yml computed'
    (tmp_path / 'deploy.sh').write_text(DEPLOY % 'v2')
    changed = query()
    assert changed['hit'] is False and changed['key'] != key, changed
    (tmp_path / 'deploy.sh').write_text(DEPLOY % 'v1')

    # A damaged entry (its RAM fails its sha256): the warm path says so and destroys what it made, so site
    # goes on cold (site's cold path is test_site's; here the warm path alone, as site includes it).
    manifest = lab_cache.read_entry(cache, key)[0]
    memory = os.path.join(cache, key, manifest['vms']['vm01']['memory'])
    with open(memory, 'r+b') as handle:
        handle.seek(os.path.getsize(memory) // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0xff]))
    verified = ansible_module('lago.lago.lago_lab_cache', dict(cache_dir=cache, state='verified'))
    assert list(verified['damaged']) == [key] and 'fails its sha256' in verified['damaged'][key][0]
    (tmp_path / 'warm-path.yml').write_text(WARM_PATH % dict(repo=REPO))
    held = leases(lab_host_dirs['lease_dir'])
    fallback = playbook(str(tmp_path / 'warm-path.yml'), dict(
        prefix_vars, lago_init_file=init_file, lago_cache_dir=cache, lago_collection_version=collection_version()))
    fallback.check()
    assert 'could not be used' in fallback.output and 'fails its sha256' in fallback.output, fallback.output[-3000:]
    assert 'the lab starts cold' in fallback.output
    assert not os.path.exists(path) and leases(lab_host_dirs['lease_dir']) == held, 'nothing half-restored is left'
    assert lab_cache.problems(cache, key), 'the entry is still damaged: a cold run saves it again'

    pruned = playbook('cache', dict(lago_cache_dir=cache, lago_cache_prune_keep=0)).check()
    assert pruned.changed() == 1 and lab_cache.entries(cache) == []


@pytest.mark.timeout(3600)  # one boot to make the entry, one cold site run
def test_a_cached_lab_whose_subnet_is_taken_starts_cold(prefix_vars, write_init_file, tmp_path, lab_host_dirs,
                                                        ansible_module):
    """The entry's subnet is leased by someone else when the warm run starts: the warm path says
    so, naming the subnet, leaves nothing half-restored, and site completes cold on another subnet."""
    (tmp_path / 'deploy.sh').write_text(DEPLOY % 'v1')
    cache = str(tmp_path / 'cache')
    path = prefix_vars['lago_prefix_path']
    lease_dir = lab_host_dirs['lease_dir']
    init_file = write_init_file(ONE_VM)
    query = ansible_module('lago.lago.lago_lab_cache', dict(
        cache_dir=cache, init_file=init_file, prefix=path, template_repo=prefix_vars['lago_template_repo'],
        collection_version=collection_version()))
    assert query['hit'] is False, query
    # The entry, as site saves a lab (its deploy does not matter here: the warm path never gets that far).
    try:
        started = ansible_module('lago.lago.lago_prefix', dict(
            path=path, init_file=init_file, state='started', template_repo=prefix_vars['lago_template_repo'],
            template_store=lab_host_dirs['template_store'], lease_dir=lease_dir, virt_type='qemu'), timeout=2400)
        assert not started.get('failed'), started.get('msg')
        saved = ansible_module('lago.lago.lago_lab_cache', dict(
            state='present', cache_dir=cache, prefix=path, key=query['key'], inputs=query['inputs']), timeout=1200)
        assert not saved.get('failed'), saved.get('msg')
        subnet = started['prefix']['nets']['lan']['subnet']
    finally:
        playbook('destroy', prefix_vars).check()
    assert [item['key'] for item in lab_cache.entries(cache) if item['complete']] == [query['key']]

    # Someone else leases that subnet before the warm run.
    held = leases(lease_dir)
    other, _created = lease_owner.standalone_owner(lease_dir, 'warm-cache-test')
    taken = os.path.basename(subnet_lease.acquire(lease_dir, other, subnet=subnet)['path'])
    try:
        output = str(tmp_path / 'collected')
        kept = str(tmp_path / 'state.json')
        domains = str(tmp_path / 'domains')
        (tmp_path / 'local-tests.yml').write_text(LOCAL_TESTS % kept + LIST_DOMAINS % domains)
        try:
            result = playbook('site', dict(
                prefix_vars, lago_init_file=init_file, lago_collect_output=output, lago_warm=True,
                lago_cache_dir=cache, lago_test_local_tasks=str(tmp_path / 'local-tests.yml')), timeout=2400)
        finally:
            playbook('destroy', prefix_vars).check()
        result.check()
        assert 'could not be used' in result.output and subnet in result.output, result.output[-3000:]
        assert 'the lab starts cold' in result.output
        assert 'warm-lab cache: resumed' not in result.output
        with open(kept) as handle:
            state = json.load(handle)
        assert state['nets']['lan']['subnet'] != subnet, 'the cold lab leased another subnet'
        assert len(deploy_log(output)) == 1, 'the cold path deployed the lab'
        with open(domains) as handle:
            lab_domains = [name for name in handle.read().split() if name.endswith('-vm01')]
        assert lab_domains == ['%s-vm01' % state['short_id']], 'no domain of the warm attempt is left'
        assert left_behind(path, state['short_id'], lease_dir) == dict(
            directory=False, leases=sorted(held + [taken]), libvirt=[], processes=[])
    finally:
        subnet_lease.release(lease_dir, other, subnet)
        shutil.rmtree(os.path.dirname(other.path), ignore_errors=True)
    assert leases(lease_dir) == held
