# -*- coding: utf-8 -*-
"""The flows on one booted prefix across the lab's two hypervisors (docs/MULTIHOST.md), in order, so the
suite boots this 2-VM lab once instead of once per flow: the demo init file with web01 pinned to hv1 and
db01 to hv2; init + start (start returns only when every VM accepts a login through its hypervisor, with
start's progress lines); a second init + start that changes nothing; db01 resolves web01 through the one
DNS server and reaches it over the lab net across the tunnel (its SSH banner, and a real ICMP echo whose
reply comes from web01's address), at the tunnel's MTU; SSH from the controller to both through hv1 with
the prefix's strict known_hosts; status; deploy + collect (each VM resolving the other); a live snapshot
and revert of both under one name (a file written after the snapshot is gone after the revert on both,
and the revert waits until both accept SSH); stop; destroy leaving nothing on any hypervisor nor a lease
on the controller."""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import time

import pytest

from ansible_collections.lago.lago.plugins.module_utils import subnet_lease, vxlan
import labrun
from test_multihost_prefix import (http_repo, leftovers, mh_vars, pinned_demo, play, play_without, ssh,  # noqa: F401 pylint: disable=unused-import
                                   _remove_parts, UNREACHABLE_ENV)

pytestmark = [pytest.mark.lab, pytest.mark.slow]

VMS = (('hv1', 'web01'), ('hv2', 'db01'))
SSH_BUDGET = 300  # lago_ssh_timeout: the controller's wait for each VM, in start and in revert

# An ICMP echo from the guest (the template has no ping binary): a raw socket as root, one request at a
# time until a reply with our id and sequence comes back; prints the address the reply came from.
PING = r'''
import os, socket, struct, sys, time


def checksum(data):
    total = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xffff)
    return ~(total + (total >> 16)) & 0xffff


target = socket.gethostbyname(sys.argv[1])
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
ident = os.getpid() & 0xffff
for seq in range(1, 6):
    payload = b'lago-multihost'
    header = struct.pack('!BBHHH', 8, 0, 0, ident, seq)
    sock.sendto(struct.pack('!BBHHH', 8, 0, checksum(header + payload), ident, seq) + payload, (target, 0))
    end = time.time() + 4
    while time.time() < end:
        sock.settimeout(max(end - time.time(), 0.01))
        try:
            data, source = sock.recvfrom(2048)
        except socket.timeout:
            break
        start = (data[0] & 15) * 4
        kind, _code, _sum, got_id, got_seq = struct.unpack('!BBHHH', data[start:start + 8])
        if kind == 0 and got_id == ident and got_seq == seq:
            print('echo reply from %s seq %d' % (source[0], seq))
            sys.exit(0)
sys.exit('no echo reply from %s' % target)
'''


def ssh_vm(prefix, address, *command, **kwargs):
    """A login to the VM at ``address`` through hv1 (its net's first hypervisor), strict, at once: no retry."""
    argv = ['ssh', '-i', os.path.join(prefix, 'id_rsa'), '-o', 'UserKnownHostsFile=%s' % os.path.join(prefix, 'known_hosts'),
            '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-o', 'LogLevel=ERROR',
            '-J', 'hv1', 'root@%s' % address] + list(command)
    return subprocess.run(argv, input=kwargs.get('stdin'), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=120, check=False)


def play_losing(host, name, extra, inventory, cwd, marker='TASK [Wait a little for SSH on the VMs]'):
    """The playbook run, ``host``'s underlay link taken down when its output shows ``marker`` (the controller's
    wait has begun) and up again once it ended. Returns the run and the seconds from the link's loss to its end."""
    argv = ['ansible-playbook', 'lago.lago.%s' % name, '-e', json.dumps(extra), '-i', inventory]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, cwd=cwd,
                            env=labrun._env(UNREACHABLE_ENV))  # pylint: disable=protected-access
    lines, lost = [], None
    try:
        for line in proc.stdout:
            lines.append(line)
            if lost is None and line.startswith(marker):
                subprocess.run(['ip', 'link', 'set', 'dev', host, 'down'], check=True)
                lost = time.monotonic()
        proc.wait(timeout=1800)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        subprocess.run(['ip', 'link', 'set', 'dev', host, 'up'], check=True)
    assert lost is not None, ''.join(lines)[-3000:]
    return labrun.Run(argv, subprocess.CompletedProcess(argv, proc.returncode, ''.join(lines), '')), \
        time.monotonic() - lost


@pytest.mark.timeout(2 * SSH_BUDGET + 2400)  # start's and revert's waits, and the ten playbooks around them
def test_multihost_lab_flows(hypervisors, lab_host_dirs, http_repo, tmp_path, unique_name):  # noqa: F811
    inventory, addresses = hypervisors
    work = pinned_demo(tmp_path)
    extra = dict(mh_vars(lab_host_dirs, http_repo, unique_name), lago_collect_output='collected')
    os.makedirs(lab_host_dirs['lease_dir'], exist_ok=True)
    prefix = os.path.join(work, '.lago')
    part_path = extra['lago_hypervisor_prefix_path']
    short_id = None
    try:
        play('init', extra, inventory, work).check()
        state = json.load(open(os.path.join(prefix, 'state.json')))
        short_id = state['short_id']
        # hv2 unreachable when start begins: hv1 starts its part, the run fails naming hv2 without waiting
        # for any VM (db01 was never started)
        began = time.monotonic()
        failed = play_without('hv2', 'start', extra, inventory, work)
        print('start with hv2 unreachable failed after %.1f s' % (time.monotonic() - began))
        assert failed.rc != 0 and 'fatal: [hv2]: UNREACHABLE!' in failed.output, failed.output[-3000:]
        assert ('hypervisor(s) hv2 did not start their part of the prefix (see the errors above), so start does not '
                'wait for their VMs (db01); run start again once they can be reached') in failed.output, failed.output[-3000:]
        assert failed.recap()['hv1']['changed'] and 'Wait a little for SSH' not in failed.output, failed.output[-3000:]
        # hv2 lost while the controller waits (its part started): the wait ends early naming hv2
        lost, seconds = play_losing('hv2', 'start', extra, inventory, work)
        print('start with hv2 lost during the wait failed %.1f s after the loss: %s' % (
            seconds, [line for line in lost.output.splitlines() if 'cannot reach hypervisor hv2' in line][-1:]))
        assert lost.rc != 0 and lost.recap()['hv2']['changed'], lost.output[-3000:]
        assert ('cannot reach hypervisor hv2 (root@%s port 22) that runs db01: 3 tries in' % addresses['hv2']
                in lost.output), lost.output[-3000:]
        assert seconds < SSH_BUDGET / 2 and 'its budget of' not in lost.output, (seconds, lost.output[-3000:])
        # hv2 back: the next start converges, starting nothing twice
        started = play('start', extra, inventory, work).check()
        assert started.recap()['hv1']['changed'] == 0 and started.recap()['hv2']['changed'] == 0, started.stdout[-3000:]
        # start returned when both accepted a login: one try each, no wait of the test's own
        for _host, name in VMS:
            assert '%s: reachable over SSH after' % name in started.stdout, started.stdout[-3000:]
            logged = ssh_vm(prefix, state['vms'][name]['address'], 'hostname')
            assert logged.returncode == 0 and logged.stdout.strip() == name, (name, logged.stdout, logged.stderr)

        # db01 (on hv2) resolves web01 (on hv1) through the one DNS server and reaches it over the
        # lab net across the tunnel: its SSH banner, at the tunnel's MTU, and an ICMP echo answered by web01.
        web = state['vms']['web01']['address']
        db = state['vms']['db01']['address']
        reached = ssh_vm(prefix, db, "getent hosts web01 && timeout 20 bash -c 'read banner </dev/tcp/web01/22; "
                                     "echo $banner' && cat /sys/class/net/eth0/mtu")
        assert reached.returncode == 0, reached.stdout + reached.stderr
        lines = reached.stdout.splitlines()
        assert lines[0].split()[0] == web and 'SSH-2.0-' in lines[1], reached.stdout
        assert lines[2] == str(vxlan.tunnel_mtu(None)), reached.stdout
        pinged = ssh_vm(prefix, db, 'python3', '-', 'web01', stdin=PING)
        assert pinged.returncode == 0, pinged.stdout + pinged.stderr
        assert pinged.stdout.startswith('echo reply from %s seq ' % web), pinged.stdout
        # The second hypervisor holds no address on the net: db01's packets to web01 crossed the tunnel.
        assert ssh('hv2', 'ip', '-o', '-4', 'addr', 'show', 'dev', state['nets']['lab']['libvirt_name']).stdout == ''

        again = [play('init', extra, inventory, work).check(), play('start', extra, inventory, work).check()]
        assert sum(run.changed() for run in again) == 0, [run.stdout[-2000:] for run in again]
        status = play('status', extra, inventory, work).check()
        for host, name in VMS:
            assert 'vm %s: running on %s at %s' % (name, host, state['vms'][name]['address']) in status.stdout, \
                status.stdout[-3000:]

        # deploy from the controller through the inventory's ProxyCommand, then collect its logs
        deployed = play('deploy', extra, inventory, work).check()
        assert deployed.recap()['web01']['changed'] and deployed.recap()['db01']['changed'], deployed.stdout[-3000:]
        play('collect', extra, inventory, work).check()
        for _host, name in VMS:
            with open(os.path.join(work, 'collected', name, '_var_log_lago-demo.log')) as handle:
                log = handle.read()
            assert log.startswith('deployed on %s' % name) and 'prefix: %s\n' % prefix in log, log
            # the other VM (on the other hypervisor) by the net's one DNS server; its own name from /etc/hosts
            other = 'db01' if name == 'web01' else 'web01'
            resolved = dict((fields[-1], fields[0]) for fields in (line.split() for line in log.splitlines()[2:]))
            assert resolved.get('%s.lago.local' % other, resolved.get(other)) == state['vms'][other]['address'], log
            assert name in resolved or '%s.lago.local' % name in resolved, log

        # a live snapshot of both under one name, then a revert: what was written after it is gone
        for _host, name in VMS:
            assert ssh_vm(prefix, state['vms'][name]['address'], 'echo before > /root/before && sync').returncode == 0
        snap = dict(extra, lago_snapshot_name='s1')
        taken = play('snapshot', snap, inventory, work).check()
        for host, name in VMS:
            assert 'snapshot s1 on %s: %s (live, ' % (host, name) in taken.stdout, taken.stdout[-3000:]
            assert taken.recap()[host]['changed'], taken.stdout[-3000:]
        for _host, name in VMS:
            wrote = ssh_vm(prefix, state['vms'][name]['address'], 'echo after > /root/after && sync && ls /root')
            assert wrote.returncode == 0 and 'after' in wrote.stdout.split(), (name, wrote.stdout, wrote.stderr)
        reverted = play('revert', snap, inventory, work).check()
        for host, name in VMS:
            assert reverted.recap()[host]['changed'], reverted.stdout[-3000:]
            assert '%s: reachable over SSH after' % name in reverted.stdout, reverted.stdout[-3000:]
            seen = ssh_vm(prefix, state['vms'][name]['address'], 'ls /root')
            assert seen.returncode == 0, (name, seen.stderr)
            assert 'before' in seen.stdout.split() and 'after' not in seen.stdout.split(), (name, seen.stdout)
        # each part records the snapshot of its own VM only
        for host, name in VMS:
            listed = subprocess.run(['ssh', host, 'cat', os.path.join(part_path, 'state.json')],
                                    stdout=subprocess.PIPE, universal_newlines=True, timeout=60, check=True)
            part = json.loads(listed.stdout)
            assert sorted(part['vms']) == [name] and 's1' in json.dumps(part['vms'][name]), host

        # stop: each VM shut off on its hypervisor
        play('stop', extra, inventory, work).check()
        status = play('status', extra, inventory, work).check()
        for host, name in VMS:
            assert 'vm %s: shut off on %s' % (name, host) in status.stdout, status.stdout[-3000:]
        play('destroy', extra, inventory, work).check()
    finally:
        play('destroy', extra, inventory, work)
        _remove_parts(inventory, part_path, short_id)
    for host, _name in VMS:
        assert leftovers(host, short_id, part_path) == [], host
    assert not os.path.exists(prefix)
    assert subnet_lease.leases_of(lab_host_dirs['lease_dir'], (os.path.join(prefix, 'uuid'), state['uuid'])) == []
