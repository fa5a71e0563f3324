# -*- coding: utf-8 -*-
"""lago.lago.site on an inventory with hypervisors (docs/MULTIHOST.md): the demo init file with web01 on
hv1 and db01 on hv2, from a scratch directory with relative paths, with an internal repository
(reposetup) holding a .deb, completes (init, reposetup, start, deploy, collect, destroy): db01 (on hv2,
behind the VXLAN tunnel) installs the package with apt from $LAGO_REPO_URL alone, served by hv1 on the
management gateway, the deploy's logs are collected and nothing is left on the controller or on any
hypervisor; with lago_warm asked it is refused before anything is made, naming it. Without a boot:
lago_reposetup copies the repository to hv1's part (changed from rsync's itemized output, --delete
in that directory), and names hv1 when it cannot be reached or its part is missing, leaving nothing."""

from __future__ import absolute_import, division, print_function

import json
import os
import re
import subprocess

import pytest

import labrun
import pkgbuild
from ansible_collections.lago.lago.plugins.module_utils import subnet_lease
from prefixlib import processes_mentioning
from test_multihost_prefix import http_repo, leftovers, mh_vars, pinned_demo, play, ssh, _remove_parts  # noqa: F401 pylint: disable=unused-import

pytestmark = [pytest.mark.lab]

SSH_BUDGET = 300  # lago_ssh_timeout: the controller's wait for each VM in start

# db01's own deploy script: apt reads only the internal repository ($LAGO_REPO_URL; the lab has no
# internet), as test_site's INSTALL_HELLO (a .deb only here: no yum metadata to read).
INSTALL_HELLO = '''\
#!/bin/sh
set -eu
env | grep '^LAGO_' | sort > /var/log/lago-deploy-env.log
''' + pkgbuild.APT_INSTALL_HELLO

DB01_DEPLOY = '''    metadata:
      deploy-scripts: [$LAGO_INITFILE_PATH/deploy.sh, $LAGO_INITFILE_PATH/install-hello.sh]
    artifacts: [/var/log/lago-demo.log, /var/log/lago-hello.log, /var/log/lago-deploy-env.log]
'''

# On the controller, once deployed (your tests, site's hook): keep the state (the gateway), then
# deploy again with lago.lago.deploy while the lab is up, site's server on hv1 stopped first: that
# deploy serves the repository from hv1 and stops it after (it started it); what runs on hv1 then is
# kept. Last, serve it on hv1 again: site's destroy of hv1's part must stop that server.
LOCAL_TESTS = '''\
- name: Keep the prefix's state
  ansible.builtin.copy:
    src: "{{ lago_prefix_path | lago.lago.user_path }}/state.json"
    dest: "%(keep)s/"
    mode: "0644"

- name: Stop the repository server site started on hv1
  ansible.builtin.command:
    argv: [ansible, hv1, -i, "%(inventory)s", -m, lago.lago.lago_reposerver, -a, '{"prefix": "%(part)s", "state": "stopped"}']
  changed_when: true

- name: Deploy again with lago.lago.deploy
  ansible.builtin.command:
    argv: [ansible-playbook, lago.lago.deploy, -i, "%(inventory)s", -e, lago_prefix_path=.lago]
    chdir: "%(work)s"
  register: deploy_again
  changed_when: true

- name: Keep what it said, and what runs on hv1 after it
  ansible.builtin.copy:
    content: "{{ deploy_again.stdout }}"
    dest: "%(keep)s/deploy.out"
    mode: "0644"

- name: List the processes of hv1
  ansible.builtin.command:
    argv: [ssh, hv1, "for p in /proc/[0-9]*; do tr '\\\\0\\\\n' '  ' < $p/cmdline 2>/dev/null; echo; done"]
  register: hv1_processes
  changed_when: false

- name: Keep them
  ansible.builtin.copy:
    content: "{{ hv1_processes.stdout }}"
    dest: "%(keep)s/hv1.processes"
    mode: "0644"

- name: Serve the repository on hv1 again, for site's destroy to stop
  ansible.builtin.command:
    argv: [ansible, hv1, -i, "%(inventory)s", -m, lago.lago.lago_reposerver, -a, "{{ {'prefix': '%(part)s', 'bind': gateway} | to_json }}"]
  vars:
    gateway: "{{ (lookup('ansible.builtin.file', (lago_prefix_path | lago.lago.user_path) ~ '/state.json') | from_json).nets.lab.gateway }}"
  changed_when: true

- name: List the processes of hv1 again
  ansible.builtin.command:
    argv: [ssh, hv1, "for p in /proc/[0-9]*; do tr '\\\\0\\\\n' '  ' < $p/cmdline 2>/dev/null; echo; done"]
  register: hv1_serving
  changed_when: false

- name: Keep them
  ansible.builtin.copy:
    content: "{{ hv1_serving.stdout }}"
    dest: "%(keep)s/hv1.serving"
    mode: "0644"
'''


def debs_in(work):
    """A directory of the user's holding the lago-hello .deb."""
    debs = os.path.join(work, 'debs')
    os.makedirs(debs)
    deb = pkgbuild.build_deb(str(work))
    os.rename(deb, os.path.join(debs, os.path.basename(deb)))
    return debs


def serving(listing, part):
    """The repository servers of ``part`` in ``listing`` (command lines, one a line, blanks for NULs and
    newlines): the server's argv ends with its root, ``<part>/internal_repo``, its address and port."""
    return [line for line in listing.splitlines() if ' %s/internal_repo ' % part in line]


def servers_on(host, part):
    """The repository servers of ``part`` running on hypervisor ``host``."""
    return serving(ssh(host, "for p in /proc/[0-9]*; do tr '\\0\\n' '  ' < $p/cmdline 2>/dev/null; echo; done").stdout, part)


@pytest.mark.slow
@pytest.mark.timeout(SSH_BUDGET + 900)  # start's wait, and the playbook around it
def test_site_on_a_multihost_prefix_completes_and_leaves_nothing(hypervisors, lab_host_dirs, http_repo, tmp_path,  # noqa: F811
                                                                 unique_name):
    inventory, _addresses = hypervisors
    work = pinned_demo(tmp_path)
    with open(os.path.join(work, 'LagoInitFile')) as handle:
        text = handle.read()
    with open(os.path.join(work, 'LagoInitFile'), 'w') as handle:
        handle.write(text.replace('    hypervisor: hv2\n', '    hypervisor: hv2\n' + DB01_DEPLOY))
    with open(os.path.join(work, 'install-hello.sh'), 'w') as handle:
        handle.write(INSTALL_HELLO)
    keep = os.path.join(str(tmp_path), 'kept')
    os.makedirs(keep)
    debs_in(work)
    extra = dict(mh_vars(lab_host_dirs, http_repo, unique_name), lago_collect_output='collected',
                 reposetup_local_deb_dirs=['debs'], lago_test_local_tasks='tests.yml')
    part = extra['lago_hypervisor_prefix_path']
    with open(os.path.join(work, 'tests.yml'), 'w') as handle:
        handle.write(LOCAL_TESTS % dict(keep=keep, inventory=inventory, part=part, work=work))
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
        # db01 (hv2) installed lago-hello with apt from the repository hv1 serves on the management
        # gateway (its postinst ran the package's script once), through the tunnel.
        state = json.load(open(os.path.join(keep, 'state.json')))
        short_id = state['short_id']
        assert state['nets']['lab']['hypervisors'][0] == 'hv1'
        url = 'http://%s:8585/internal/' % state['nets']['lab']['gateway']
        with open(os.path.join(work, 'collected', 'db01', '_var_log_lago-deploy-env.log')) as handle:
            env = handle.read().splitlines()
        assert 'LAGO_REPO_URL=%s' % url in env, env
        with open(os.path.join(work, 'collected', 'db01', '_var_log_lago-hello.log')) as handle:
            hello = handle.read().splitlines()
        assert len(hello) == 1 and hello[0].startswith(pkgbuild.log_message()), hello
        assert re.search(r'TASK \[Serve the internal repository on that hypervisor\] \*+\nchanged: \[localhost -> hv1[\](]',
                         run.stdout), run.stdout[-4000:]
        # deploy.yml on the lab: served from hv1 (site's server stopped before), stopped after, nothing left there
        with open(os.path.join(keep, 'deploy.out')) as handle:
            deployed = handle.read()
        for task in ('Serve the internal repository on that hypervisor',
                     'Stop the repository server on the hypervisor that serves it'):
            assert re.search(r'TASK \[%s\] \*+\nchanged: \[localhost -> hv1[\](]' % task, deployed), (task, deployed)
        with open(os.path.join(keep, 'hv1.processes')) as handle:
            assert serving(handle.read(), part) == []
        with open(os.path.join(keep, 'hv1.serving')) as handle:
            assert len(serving(handle.read(), part)) == 1  # the server the destroy below must stop
    finally:
        if os.path.exists(os.path.join(prefix, 'state.json')):
            short_id = json.load(open(os.path.join(prefix, 'state.json')))['short_id']
            play('destroy', extra, inventory, work)
        _remove_parts(inventory, part, short_id)
    for host in ('hv1', 'hv2'):
        assert leftovers(host, short_id or 'lago-none', part) == [], host
        assert servers_on(host, part) == [], host
    assert processes_mentioning(prefix) == []
    assert not os.path.exists(prefix)
    assert subnet_lease.list_leases(lab_host_dirs['lease_dir']) == before


def reposetup(work, args, *options):
    """lago_reposetup on the controller, as ``ansible localhost``: (rc, result or None, output)."""
    run = labrun.run(['ansible', 'localhost', '-m', 'lago.lago.lago_reposetup', '-a', json.dumps(args)] + list(options),
                     cwd=work)
    result = json.loads(run.stdout[run.stdout.index('=> {') + 3:]) if '=> {' in run.stdout else None
    return run.rc, result, run.output


def test_reposetup_copies_the_repository_to_the_gateways_hypervisor_and_names_it_when_it_cannot(
        hypervisors, lab_host_dirs, http_repo, tmp_path, unique_name):  # noqa: F811
    inventory, addresses = hypervisors
    work = pinned_demo(tmp_path)
    extra = mh_vars(lab_host_dirs, http_repo, unique_name)
    part = extra['lago_hypervisor_prefix_path']
    prefix = os.path.join(work, '.lago')
    args = dict(prefix=prefix, local_deb_dirs=[debs_in(work)])
    os.makedirs(lab_host_dirs['lease_dir'], exist_ok=True)
    before = subnet_lease.list_leases(lab_host_dirs['lease_dir'])
    short_id = None
    try:
        # site --check on the new prefix predicts reposetup and makes nothing, here or on a hypervisor
        checked = labrun.playbook('site', dict(extra, reposetup_local_deb_dirs=['debs']), '-i', inventory, '--check',
                                  cwd=work, timeout=1800)
        assert checked.rc == 0, checked.output[-4000:]
        assert ('check mode: reposetup would build the internal repository of the new prefix from %s/debs and copy '
                "it to the hypervisor holding the management net's gateway" % work) in ' '.join(checked.stdout.split())
        assert not os.path.exists(prefix)
        for host in ('hv1', 'hv2'):
            assert ssh(host, 'test', '-e', part).returncode != 0, host

        play('init', extra, inventory, work).check()  # the parts, no boot
        state = json.load(open(os.path.join(prefix, 'state.json')))
        short_id = state['short_id']

        # hv1 (the gateway's) cannot be reached: named with its address, nothing built or copied
        subprocess.run(['ip', 'link', 'set', 'dev', 'hv1', 'down'], check=True)
        try:
            rc, _result, output = reposetup(work, args)
        finally:
            subprocess.run(['ip', 'link', 'set', 'dev', 'hv1', 'up'], check=True)
        assert rc != 0
        assert ('cannot reach hypervisor hv1 (root@%s port 22) to copy the internal repository to its part %s: '
                % (addresses['hv1'], part)) in output, output[-3000:]
        assert not os.path.exists(os.path.join(prefix, 'internal_repo'))
        assert ssh('hv1', 'test', '-e', part + '/internal_repo').returncode != 0

        # built here, copied into hv1's part only, with the gateway's URL
        rc, result, output = reposetup(work, args, '--diff')
        assert rc == 0 and result['changed'], output[-3000:]
        assert (result['served_by'], result['served_prefix']) == ('hv1', part)
        assert result['served_path'] == part + '/internal_repo/internal'
        assert result['url'] == 'http://%s:8585/internal/' % state['nets']['lab']['gateway']
        assert 'internal_repo/internal/lago-hello_1.0_all.deb' in result['published']['added'], result
        listing = ssh('hv1', 'ls', '-A', part + '/internal_repo/internal')
        assert sorted(listing.stdout.split()) == ['.lago-repo.json', 'Packages', 'Packages.gz', 'Release',
                                                  'lago-hello_1.0_all.deb'], listing
        assert ssh('hv2', 'test', '-e', part + '/internal_repo').returncode != 0
        rc, result, output = reposetup(work, args)
        assert rc == 0 and not result['changed'] and result['published'] == dict(added=[], updated=[], deleted=[]), output

        # a file the collection did not put there: --delete (check mode: --dry-run, it stays)
        assert ssh('hv1', 'touch', part + '/internal_repo/internal/stray.deb').returncode == 0
        rc, result, output = reposetup(work, dict(prefix=prefix, build=False), '--check')
        assert rc == 0 and result['changed'] and result['published']['deleted'] == [
            'internal_repo/internal/stray.deb'], output
        assert ssh('hv1', 'test', '-e', part + '/internal_repo/internal/stray.deb').returncode == 0
        rc, result, output = reposetup(work, dict(prefix=prefix, build=False))
        assert rc == 0 and result['changed'], output
        assert ssh('hv1', 'test', '-e', part + '/internal_repo/internal/stray.deb').returncode != 0

        # hv1's part is gone: named, nothing made there
        labrun.run(['ansible', 'hv1', '-i', inventory, '-m', 'lago.lago.lago_prefix', '-a',
                    json.dumps(dict(path=part, state='absent'))]).check()
        rc, _result, output = reposetup(work, args)
        assert rc != 0
        assert ('hypervisor hv1 has no part of prefix %s at %s (run init with the hypervisors first)' % (prefix, part)
                in output), output[-3000:]
        assert ssh('hv1', 'test', '-e', part).returncode != 0
    finally:
        if os.path.exists(os.path.join(prefix, 'state.json')):
            play('destroy', extra, inventory, work)
        _remove_parts(inventory, part, short_id)
    for host in ('hv1', 'hv2'):
        assert leftovers(host, short_id or 'lago-none', part) == [], host
    assert not os.path.exists(prefix)
    assert subnet_lease.list_leases(lab_host_dirs['lease_dir']) == before


def test_site_with_warm_on_a_multihost_inventory_is_refused_with_nothing_made(hypervisors, lab_host_dirs, tmp_path,
                                                                              unique_name):
    inventory, _addresses = hypervisors
    work = pinned_demo(tmp_path)
    extra = dict(mh_vars(lab_host_dirs, 'http://192.168.250.1:9/repo.json', unique_name), lago_warm=True)
    os.makedirs(lab_host_dirs['lease_dir'], exist_ok=True)
    before = subnet_lease.list_leases(lab_host_dirs['lease_dir'])
    run = play('site', extra, inventory, work)
    assert run.rc != 0, run.stdout[-3000:]
    message = ' '.join(run.stdout.split())
    assert ('lago.lago.site does not support lago_warm on a multi-host prefix yet: the inventory has the group '
            'lago_hypervisors (hv1, hv2) and the warm-lab cache saves and resumes VMs on this host only') in message, \
        run.stdout[-3000:]
    recap = run.recap()
    assert set(recap) == {'localhost'} and recap['localhost']['changed'] == 0, recap
    assert not os.path.exists(os.path.join(work, '.lago'))
    assert subnet_lease.list_leases(lab_host_dirs['lease_dir']) == before
    for host in ('hv1', 'hv2'):
        assert ssh(host, 'test', '-e', extra['lago_hypervisor_prefix_path']).returncode != 0, host
