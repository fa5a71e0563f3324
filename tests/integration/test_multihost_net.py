# -*- coding: utf-8 -*-
"""One lab net across two hypervisors: the net's libvirt network on each (DHCP
and DNS on the first only, a plain bridge on the second, both with the MTU
lowered for the tunnel), joined by lago_vxlan run on each hypervisor through
Ansible; a VM on each gets its address from the one DHCP server, and they
resolve and reach each other over the net."""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess

import pytest

from lablib import BootedVM, Cleanup, template_image
from ansible_collections.lago.lago.plugins.module_utils import network, vxlan
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import connect

pytestmark = [pytest.mark.lab, pytest.mark.slow]

SUBNET = '192.168.241'


def _tunnels(inventory, tmp_path, tunnels, state='present'):
    """lago_vxlan on each hypervisor (``{host: args}``) through ansible-playbook; ``{host: result}``."""
    out = tmp_path / 'vxlan.json'
    hosts = sorted(tunnels)
    collect = "{{ dict(%r | zip(%r | map('extract', hostvars, 'r'))) | to_json }}" % (hosts, hosts)
    task = {'lago.lago.lago_vxlan': "{{ tunnels[inventory_hostname] | combine({'state': '%s'}) }}" % state,
            'register': 'r'}
    play = [dict(hosts=':'.join(hosts), gather_facts=False, tasks=[task]),
            dict(hosts='localhost', gather_facts=False, tasks=[{'ansible.builtin.copy': dict(dest=str(out), content=collect)}])]
    playbook = tmp_path / 'vxlan.yml'
    playbook.write_text(json.dumps(play))
    extra = tmp_path / 'tunnels.json'
    extra.write_text(json.dumps(dict(tunnels=tunnels)))
    proc = subprocess.run(['ansible-playbook', '-i', inventory, '-e', '@%s' % extra, str(playbook)],
                          env=dict(os.environ, ANSIBLE_LOCALHOST_WARNING='false'), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(out.read_text())


def _links(host, device):
    return subprocess.run(['ssh', host, 'ip', '-o', 'link', 'show', 'dev', device], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=60, check=False)


def test_two_vms_on_two_hypervisors_share_one_net(hypervisors, lab_template_repo, lab_dir, unique_name, tmp_path):
    inventory, addresses = hypervisors
    first, second = sorted(addresses)[:2]
    names = {first: unique_name + '-a', second: unique_name + '-b'}
    ips = {first: SUBNET + '.10', second: SUBNET + '.11'}
    macs = {first: network.mac_for_ip(ips[first]), second: network.mac_for_ip(ips[second])}
    desc = network.describe(unique_name, unique_name, 'nat', subnet=SUBNET + '.0/24', dhcp={'start': 100, 'end': 200},
                            hosts=[dict(mac=macs[h], ip=ips[h], name=names[h]) for h in (first, second)],
                            dns_domain='lago.local', dns_hosts=dict((names[h], ips[h]) for h in (first, second)))
    conns = dict((host, connect('qemu+ssh://root@%s/system' % host)) for host in (first, second))
    device = vxlan.device_name(unique_name)
    tunnels = dict((host, dict(bridge=unique_name, vni=vxlan.vni('%032x' % 1, unique_name), local=addresses[host],
                               peers=[addresses[other] for other in (first, second) if other != host],
                               mtu=vxlan.tunnel_mtu(None)))
                   for host in (first, second))
    cleanup = Cleanup()
    try:
        for host, host_desc in vxlan.host_networks(desc, [first, second]).items():
            cleanup.add(network.remove, conns[host], unique_name)
            network.reconcile(conns[host], host_desc, 'started')
        cleanup.add(_tunnels, inventory, tmp_path, tunnels, 'absent')
        made = _tunnels(inventory, tmp_path, tunnels)
        for host in (first, second):
            assert made[host]['changed'] and made[host]['vxlan'] == dict(
                tunnels[host], device=device, port=vxlan.DSTPORT, up=True), made[host]
        again = _tunnels(inventory, tmp_path, tunnels)
        assert not any(result['changed'] for result in again.values()), again

        template = template_image(lab_template_repo)
        # The first VM is configured as a prefix's VMs are (its address, the gateway and the DNS
        # server .1 on the first hypervisor); the second asks DHCP, which only the first hypervisor
        # serves, across the tunnel. The second hypervisor has no address on the net: the
        # controller reaches both through the first one.
        vms = dict((host, BootedVM(lab_dir, names[host], template, unique_name, ips[host], SUBNET + '.1',
                                   dhcp=host == second, mac=macs[host], jump=first, mtu=vxlan.tunnel_mtu(None)))
                   for host in (first, second))
        for host, vm in vms.items():
            vm.start(conns[host], cleanup)
        for host, vm in vms.items():
            vm.wait_for_ssh(conn=conns[host])
        there = SUBNET + '.11'
        # The template has no ping: the first VM resolves the second by name (the one DNS server
        # holds every VM's name) and reads its SSH banner over the net, and the second the first's.
        result = vms[first].ssh("getent hosts %s && timeout 20 bash -c 'read banner </dev/tcp/%s/22; echo $banner'"
                                % (names[second], there))
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.split()[0] == there and 'SSH-2.0-' in result.stdout, result.stdout
        result = vms[second].ssh("timeout 20 bash -c 'read banner </dev/tcp/%s/22; echo $banner'" % ips[first])
        assert result.returncode == 0 and 'SSH-2.0-' in result.stdout, result.stdout + result.stderr
        # Full-size frames cross the tunnel both ways (an MTU too large for it would stall these).
        payload = os.urandom(2 * 1024 * 1024)
        sent = subprocess.run(vms[second].ssh_argv('wc -c'), input=payload, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=300, check=False)
        assert sent.returncode == 0 and sent.stdout.split() == [str(len(payload)).encode()], sent.stderr
        got = subprocess.run(vms[second].ssh_argv('head -c %d /dev/urandom' % len(payload)), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=300, check=False)
        assert got.returncode == 0 and len(got.stdout) == len(payload), got.stderr
        result = vms[second].ssh('cat /sys/class/net/eth0/mtu; ip -o -4 addr show eth0')
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[0] == str(vxlan.tunnel_mtu(None))
        assert 'inet %s/24' % there in result.stdout
        # One DHCP server for the whole net: the second hypervisor runs none.
        live = dict((host, network.read_network(conns[host], unique_name)['live']) for host in (first, second))
        assert live[first]['hosts'] and live[first]['mtu'] == live[second]['mtu'] == vxlan.tunnel_mtu(None)
        assert live[second]['type'] == 'bridge' and live[second]['subnet'] is None and not live[second]['hosts']
        # A DHCP server listens (UDP port 67, in the hypervisor's own network namespace) on the first only.
        dhcp = dict((host, subprocess.run(['ssh', host, 'ss', '-Hlnu', 'sport = :67'], stdout=subprocess.PIPE,
                                          universal_newlines=True, timeout=60, check=True).stdout.strip())
                    for host in (first, second))
        assert dhcp[first] and not dhcp[second], dhcp
    finally:
        cleanup.run()
    for host in (first, second):
        assert network.read_network(conns[host], unique_name) is None
        gone = _links(host, device)
        assert gone.returncode != 0 and 'does not exist' in gone.stderr, gone.stdout + gone.stderr


def test_bad_tunnel_input_is_refused_naming_it_and_leaves_no_device(hypervisors, unique_name, tmp_path):
    inventory, addresses = hypervisors
    host = sorted(addresses)[0]
    good = dict(bridge=unique_name, vni=7, local=addresses[host], peers=[])
    cases = [(dict(good, local='hv1'), "local: 'hv1' is not an IPv4 address"),
             (dict(good, vni=2 ** 24), 'vni 16777216 is out of range'),
             (good, 'bridge %s does not exist on this host: start its libvirt network first' % unique_name)]
    for args, message in cases:
        out = tmp_path / 'result.json'
        play = [dict(hosts=host, gather_facts=False, tasks=[
            {'lago.lago.lago_vxlan': args, 'register': 'r', 'ignore_errors': True},
            {'ansible.builtin.copy': dict(dest=str(out), content='{{ r | to_json }}'), 'delegate_to': 'localhost'}])]
        playbook = tmp_path / 'bad.yml'
        playbook.write_text(json.dumps(play))
        subprocess.run(['ansible-playbook', '-i', inventory, str(playbook)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=300, check=False)
        result = json.loads(out.read_text())
        assert result.get('failed') and message in result['msg'], result
        gone = _links(host, vxlan.device_name(unique_name))
        assert gone.returncode != 0 and 'does not exist' in gone.stderr, gone.stdout + gone.stderr
