# -*- coding: utf-8 -*-
"""The lab's hypervisors (``hack/lab hypervisors N``): each its own network and
mount namespace with its own libvirtd, reached from the controller's lab
namespace the way real machines are, over SSH with strict host keys, through
an underlay that exists only inside the lab."""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess

import pytest

from lablib import Cleanup
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import connect, lookup_network

pytestmark = [pytest.mark.lab]


def _ansible(inventory, module, args, tmp_path):
    """Run ``module`` on every hypervisor through a playbook; ``{host: result}``."""
    out = tmp_path / 'results.json'
    names = 'groups.lago_hypervisors'
    collect = "{{ dict(%s | zip(%s | map('extract', hostvars, 'r'))) | to_json }}" % (names, names)
    play = [dict(hosts='lago_hypervisors', gather_facts=False, tasks=[{module: args, 'register': 'r'}]),
            dict(hosts='localhost', gather_facts=False, tasks=[{'ansible.builtin.copy': dict(dest=str(out), content=collect)}])]
    playbook = tmp_path / 'play.yml'
    playbook.write_text(json.dumps(play))
    proc = subprocess.run(['ansible-playbook', '-i', inventory, str(playbook)],
                          env=dict(os.environ, ANSIBLE_LOCALHOST_WARNING='false'),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(out.read_text())


def test_ansible_reaches_each_hypervisor_in_its_own_namespace(hypervisors, tmp_path):
    inventory, hosts = hypervisors
    pings = _ansible(inventory, 'ansible.builtin.ping', {}, tmp_path)
    assert sorted(pings) == sorted(hosts)
    assert all(result['ping'] == 'pong' for result in pings.values()), pings
    # A command runs in the hypervisor's network namespace: its eth0 has its
    # own underlay address and nothing else of the controller's.
    addrs = _ansible(inventory, 'ansible.builtin.command', 'ip -o -4 addr show', tmp_path)
    for name, address in hosts.items():
        out = addrs[name]['stdout']
        assert ' eth0 ' in out and 'inet %s/24' % address in out, out
        assert 'lagohv' not in out, out


def test_virsh_over_ssh_reaches_each_hypervisors_own_libvirtd(hypervisors, unique_name):
    _inventory, hosts = hypervisors
    names = sorted(hosts)
    for name in names:
        uri = 'qemu+ssh://root@%s/system' % name
        out = subprocess.check_output(['virsh', '-c', uri, 'uri'], universal_newlines=True, timeout=120)
        assert out.strip() == uri
    # An object made on the first hypervisor exists there only.
    first = connect('qemu+ssh://root@%s/system' % names[0])
    cleanup = Cleanup()
    try:
        first.networkCreateXML("<network><name>%s</name><bridge name='%s'/></network>" % (unique_name, unique_name))
        cleanup.add(lambda: lookup_network(first, unique_name).destroy())
        assert lookup_network(first, unique_name) is not None
        for other in ['qemu:///system'] + ['qemu+ssh://root@%s/system' % name for name in names[1:]]:
            assert lookup_network(connect(other), unique_name) is None, other
    finally:
        cleanup.run()
    assert lookup_network(first, unique_name) is None


def test_host_keys_are_checked_strictly(hypervisors, tmp_path):
    _inventory, hosts = hypervisors
    name = sorted(hosts)[0]
    empty = tmp_path / 'known_hosts'
    empty.write_text(u'')
    proc = subprocess.run(['ssh', '-o', 'UserKnownHostsFile=%s' % empty, name, 'true'],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60, check=False)
    assert proc.returncode == 255 and 'Host key verification failed' in proc.stderr, proc.stderr
    assert not empty.read_text(), 'strict checking must not learn a host key'
    assert subprocess.call(['ssh', name, 'true'], timeout=60) == 0


def test_underlay_is_not_on_the_machines_interfaces(hypervisors):
    _inventory, hosts = hypervisors
    # /proc/1/net/route: the routes of the machine's own network namespace
    # (pid 1 runs there); the underlay's /24 is not among them.
    underlay = sorted(hosts.values())[0].rsplit('.', 1)[0]
    octets = [int(part) for part in underlay.split('.')]
    hex_net = '00%02X%02X%02X' % (octets[2], octets[1], octets[0])
    with open('/proc/1/net/route') as handle:
        routes = [line.split()[1] for line in handle.readlines()[1:]]
    assert hex_net not in routes, routes
    with open('/proc/self/net/route') as handle:
        assert hex_net in [line.split()[1] for line in handle.readlines()[1:]]


def test_placement_facts_come_from_each_hypervisors_own_libvirtd(hypervisors):
    from ansible_collections.lago.lago.plugins.module_utils import placement
    _inventory, hosts = hypervisors
    facts = dict((name, placement.hypervisor_facts(connect('qemu+ssh://root@%s/system' % name))) for name in sorted(hosts))
    for fact in facts.values():
        assert fact['free_memory_mib'] > 0 and fact['vms'] == 0, facts
    # The hypervisors share this machine's memory: two equal VMs go one to each.
    domains = dict((name, dict(memory=1024)) for name in ('vm01', 'vm02'))
    assert sorted(placement.place(domains, dict((name, facts[name]) for name in sorted(hosts)[:2])).values()) \
        == sorted(hosts)[:2]
