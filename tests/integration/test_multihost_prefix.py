# -*- coding: utf-8 -*-
"""A prefix across the lab's two hypervisors, driven from the controller through the
verb playbooks: the demo init file with web01 pinned to hv1 and db01 to hv2, init from a
scratch directory with relative paths (each hypervisor builds its part under a path
private to it, with templates fetched over HTTP from the controller into its own store),
a second init that changes nothing, destroy that leaves nothing on any hypervisor nor a
lease on the controller, a hypervisor unreachable mid-destroy named in the error and the
next run converging; and a pin to an unknown hypervisor refused with nothing made. The flows that boot
the VMs share one booted lab in test_multihost_flow.py; the helpers here serve it and the other
multi-host tests."""

from __future__ import absolute_import, division, print_function

import json
import os
import shlex
import subprocess

import pytest

import labrun
import repo_server
from ansible_collections.lago.lago.plugins.module_utils import subnet_lease, vxlan
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import connect

pytestmark = [pytest.mark.lab]

# Private to each hypervisor (its own /var/lib/libvirt): nothing here can be read from the controller's files.
PRIVATE = '/var/lib/libvirt/lago-mh'
TEMPLATES = os.path.dirname(os.environ.get('LAGO_LAB_TEMPLATE_REPO') or '/var/cache/lago-lab/templates/repo.json')


@pytest.fixture
def http_repo(tmp_path):
    """The lab's template repository served over HTTP on the controller's underlay address."""
    served = tmp_path / 'served'
    served.mkdir()
    with open(os.path.join(TEMPLATES, 'repo.json')) as handle:
        repo = json.load(handle)
    for name in os.listdir(TEMPLATES):
        if os.path.isdir(os.path.join(TEMPLATES, name)):
            os.symlink(os.path.join(TEMPLATES, name), str(served / name))
    server = repo_server.start_in_thread(str(served), host='192.168.250.1')
    for source in repo['sources'].values():
        source.update(type='http', args=dict(baseurl=server.url))
    (served / 'repo.json').write_text(json.dumps(repo))
    yield server.url + '/repo.json'
    server.shutdown()
    server.server_close()


def pinned_demo(tmp_path, web='hv1', db='hv2'):
    """The demo init file in a directory of the user's, web01 pinned to ``web`` and db01 to ``db``."""
    work = labrun.user_dir_with_demo(tmp_path)
    path = os.path.join(work, 'LagoInitFile')
    with open(path) as handle:
        text = handle.read()
    text = text.replace('  web01: &debian\n', '  web01: &debian\n    hypervisor: %s\n' % web)
    text = text.replace('    <<: *debian\n', '    <<: *debian\n    hypervisor: %s\n' % db)
    with open(path, 'w') as handle:
        handle.write(text)
    return work


def ssh(host, *command):
    return subprocess.run(['ssh', host] + list(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=120, check=False)


def leftovers(host, short_id, part):
    """What of the prefix ``short_id`` is on hypervisor ``host``: domains, networks, vxlan devices, files."""
    conn = connect('qemu+ssh://root@%s/system' % host)
    try:
        found = ['domain %s' % d.name() for d in conn.listAllDomains() if d.name().startswith(short_id)]
        found += ['network %s' % n.name() for n in conn.listAllNetworks() if n.name().startswith(short_id)]
    finally:
        conn.close()
    links = ssh(host, 'ip', '-o', 'link', 'show', 'type', 'vxlan')
    assert links.returncode == 0, links.stderr
    found += ['vxlan %s' % line.split(':')[1].strip() for line in links.stdout.splitlines()]
    files = ssh(host, 'find', PRIVATE + '/parts', '-mindepth', '1')
    found += ['file %s' % line for line in files.stdout.splitlines()]
    # One string: ssh hands the remote shell its words joined, so ('sh', '-c', ...) would lose the quoting.
    users = ssh(host, 'grep -rl --include=*.users -- %s %s/store || true' % (shlex.quote(part), PRIVATE))
    found += ['store user in %s' % line for line in users.stdout.splitlines()]
    return found


def _remove_parts(inventory, part, short_id):
    """The test's own cleanup, whatever the playbooks did: each part and the prefix's tunnels on every hypervisor."""
    labrun.run(['ansible', 'lago_hypervisors', '-i', inventory, '-m', 'lago.lago.lago_prefix', '-a',
                json.dumps(dict(path=part, state='absent'))])
    for host in ('hv1', 'hv2'):
        if short_id:
            ssh(host, 'for dev in $(ip -o link show type vxlan | cut -d: -f2); do '
                      'ip -d link show dev $dev | grep -q "master %s-" && ip link del dev $dev; done; true'
                % short_id)


def mh_vars(lab_host_dirs, repo_url, name):
    return dict(lago_prefix_path='.lago', lago_init_file='LagoInitFile', lago_lease_dir=lab_host_dirs['lease_dir'],
                lago_virt_type='qemu', lago_template_repo='', lago_hypervisor_template_repo=repo_url,
                lago_hypervisor_template_store=PRIVATE + '/store',
                lago_hypervisor_prefix_path='%s/parts/%s' % (PRIVATE, name))


def play(name, extra, inventory, cwd):
    return labrun.playbook(name, extra, '-i', inventory, cwd=cwd, timeout=1800)


# A run during which a hypervisor may be lost: no SSH connection kept open, a short connection timeout.
UNREACHABLE_ENV = dict(ANSIBLE_SSH_ARGS='-o ControlMaster=no', ANSIBLE_TIMEOUT='10')


def play_without(host, name, extra, inventory, cwd):
    """The playbook run while ``host`` cannot be reached (its underlay link down, no SSH connection kept open)."""
    subprocess.run(['ip', 'link', 'set', 'dev', host, 'down'], check=True)
    try:
        return labrun.playbook(name, extra, '-i', inventory, cwd=cwd, timeout=1800, env=UNREACHABLE_ENV)
    finally:
        subprocess.run(['ip', 'link', 'set', 'dev', host, 'up'], check=True)


def test_multihost_init_again_and_destroy(hypervisors, lab_host_dirs, http_repo, tmp_path, unique_name):
    inventory, addresses = hypervisors
    work = pinned_demo(tmp_path)
    extra = mh_vars(lab_host_dirs, http_repo, unique_name)
    os.makedirs(lab_host_dirs['lease_dir'], exist_ok=True)
    short_id = None
    try:
        # hv2 unreachable: init fails naming it before the controller makes anything.
        failed = play_without('hv2', 'init', extra, inventory, work)
        assert failed.rc != 0 and 'fatal: [hv2]: UNREACHABLE!' in failed.output, failed.output[-3000:]
        assert 'hypervisor(s) hv2 did not answer' in failed.output, failed.output[-3000:]
        assert not os.path.exists(os.path.join(work, '.lago'))
        init = play('init', extra, inventory, work).check()
        assert init.recap()['hv1']['changed'] and init.recap()['hv2']['changed'], init.stdout[-3000:]
        state = json.load(open(os.path.join(work, '.lago', 'state.json')))
        short_id = state['short_id']
        assert dict((name, vm['hypervisor']) for name, vm in state['vms'].items()) == {'web01': 'hv1', 'db01': 'hv2'}
        assert state['hypervisors']['hv2']['ssh_host'] == addresses['hv2']
        assert state['hypervisors']['hv2']['path'] == '%s/parts/%s' % (PRIVATE, unique_name)
        assert state['nets']['lab']['hypervisors'] == ['hv1', 'hv2']
        owner = (os.path.join(work, '.lago', 'uuid'), state['uuid'])
        assert len(subnet_lease.leases_of(lab_host_dirs['lease_dir'], owner)) == 1
        # Each part is on its own hypervisor, with the controller's uuid: hv1 has the net with
        # DHCP/DNS for both VMs, hv2 a plain bridge; each has only its own VM.
        for host, vm_name in (('hv1', 'web01'), ('hv2', 'db01')):
            conn = connect('qemu+ssh://root@%s/system' % host)
            try:
                domains = sorted(d.name() for d in conn.listAllDomains() if d.name().startswith(short_id))
                assert domains == ['%s-%s' % (short_id, vm_name)], (host, domains)
                xml = conn.networkLookupByName(state['nets']['lab']['libvirt_name']).XMLDesc(0)
            finally:
                conn.close()
            assert "mtu size='%d'" % vxlan.tunnel_mtu(None) in xml, xml
            if host == 'hv1':
                assert state['vms']['db01']['address'] in xml and '<dhcp>' in xml, xml
            else:
                assert '<ip' not in xml and '<dhcp' not in xml, xml
        assert not os.path.exists(extra['lago_hypervisor_prefix_path']), 'a part was made on the controller'
        # An unchanged init changes nothing anywhere.
        again = play('init', extra, inventory, work).check()
        assert again.changed() == 0, again.stdout[-3000:]
        # hv1's net is only defined (no bridge, no route yet), and hv1 still reports its subnet as taken.
        conn = connect('qemu+ssh://root@hv1/system')
        try:
            assert not conn.networkLookupByName(state['nets']['lab']['libvirt_name']).isActive()
        finally:
            conn.close()
        report = labrun.run(['ansible', 'hv1', '-i', inventory, '-m', 'lago.lago.lago_hypervisor_info'], cwd=work)
        assert report.rc == 0, report.output[-3000:]
        routes = json.loads(report.stdout.split('=>', 1)[1])['routes']
        assert state['nets']['lab']['subnet'] in routes, routes

        # Destroy with hv2 unreachable: the run fails naming hv2, the controller keeps its record
        # and lease; the next run converges.
        failed = play_without('hv2', 'destroy', extra, inventory, work)
        assert failed.rc != 0 and 'fatal: [hv2]: UNREACHABLE!' in failed.output, failed.output[-3000:]
        assert os.path.exists(os.path.join(work, '.lago', 'state.json'))
        assert len(subnet_lease.leases_of(lab_host_dirs['lease_dir'], owner)) == 1
        play('destroy', extra, inventory, work).check()
    finally:
        if short_id is None and os.path.exists(os.path.join(work, '.lago', 'state.json')):
            short_id = json.load(open(os.path.join(work, '.lago', 'state.json')))['short_id']
        play('destroy', extra, inventory, work)
        _remove_parts(inventory, extra['lago_hypervisor_prefix_path'], short_id)
    for host in ('hv1', 'hv2'):
        assert leftovers(host, short_id, extra['lago_hypervisor_prefix_path']) == [], host
    assert not os.path.exists(os.path.join(work, '.lago'))
    assert subnet_lease.leases_of(lab_host_dirs['lease_dir'], owner) == []


def test_a_pin_to_an_unknown_hypervisor_is_refused_with_nothing_made(hypervisors, lab_host_dirs, http_repo, tmp_path,
                                                                     unique_name):
    inventory, _addresses = hypervisors
    work = pinned_demo(tmp_path, db='hv9')
    extra = mh_vars(lab_host_dirs, http_repo, unique_name)
    before = subnet_lease.list_leases(lab_host_dirs['lease_dir']) if os.path.isdir(lab_host_dirs['lease_dir']) else []
    refused = play('init', extra, inventory, work)
    assert refused.rc != 0
    assert "domains.db01.hypervisor: VM db01 is pinned to unknown hypervisor 'hv9' (hypervisors: hv1, hv2)" \
        in refused.output, refused.output[-3000:]
    assert not os.path.exists(os.path.join(work, '.lago'))
    after = subnet_lease.list_leases(lab_host_dirs['lease_dir']) if os.path.isdir(lab_host_dirs['lease_dir']) else []
    assert after == before
    for host in ('hv1', 'hv2'):
        assert ssh(host, 'test', '-e', extra['lago_hypervisor_prefix_path']).returncode != 0
