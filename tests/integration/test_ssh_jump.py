# -*- coding: utf-8 -*-
"""Reaching the VMs of a multi-host prefix through their hypervisor (docs/MULTIHOST.md,
"Reachability"), with real sshd's and no VM: hv2's sshd plays a VM that the
controller reaches only through hv1 (a ``direct-tcpip`` channel for the engine, a
ProxyCommand for Ansible), host keys strict on both hops."""

from __future__ import absolute_import, division, print_function

import os
import shutil
import subprocess
import time

import pytest

from lablib import BootedVM, Cleanup, make_nat_network
from ansible_collections.lago.lago.plugins.module_utils import prefix_power, ssh
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import connect
from ansible_collections.lago.lago.plugins.module_utils.errors import PrefixError
from ansible_collections.lago.lago.plugins.module_utils.prefix_state import Layout, PrefixState
from ansible_collections.lago.lago.tests.unit.plugins.synthetic_prefix import (
    make_prefix, spread_over_hypervisors, vm_state)

pytestmark = [pytest.mark.lab]

SUBNET, THIRD_OCTET = '192.168.243', 243  # a net inside the first hypervisor's namespace only


@pytest.fixture
def lab_hv(hypervisors):
    """The first two hypervisors: {name: address}, and the lab's key and known_hosts for them."""
    inventory, addresses = hypervisors
    first, second = sorted(addresses)[:2]
    hv_dir = os.path.dirname(inventory)
    return dict(first=first, second=second, addresses=addresses, key=os.path.join(hv_dir, 'id_ed25519'),
                known_hosts=os.path.join(hv_dir, 'known_hosts'))


def _jump(lab_hv, **changes):
    first = lab_hv['first']
    return ssh.Jump(first, lab_hv['addresses'][first], 22, 'root', lab_hv['key'], lab_hv['known_hosts'])._replace(**changes)


def _host_key_line(known_hosts, name):
    with open(known_hosts) as handle:
        return next(line for line in handle if line.split()[0].split(',')[0] == name)


def _prefix(lab_hv, path, hv_files, port=22):
    """A hand-written multi-host prefix whose one "VM" is the second hypervisor's sshd, placed
    on it, on a net whose first hypervisor (its gateway) is the first one: reached through it.
    The prefix's key and known_hosts are the lab's; the jump's key and known_hosts are copied
    to ``hv_files`` (a directory) and recorded relative to the prefix."""
    first, second = lab_hv['first'], lab_hv['second']
    vm = vm_state('abab0009', second, 9)
    vm.update(address=lab_hv['addresses'][second], boot_time_sec=None)
    vm['nics'][0]['ip'] = vm['address']
    make_prefix(path, {second: vm})
    shutil.copy(lab_hv['key'], os.path.join(path, 'id_rsa'))
    with open(os.path.join(path, 'known_hosts'), 'w') as handle:
        handle.write(_host_key_line(lab_hv['known_hosts'], second))
    os.makedirs(hv_files)
    for name in ('id_ed25519', 'known_hosts'):
        shutil.copy(os.path.join(os.path.dirname(lab_hv['key']), name), os.path.join(hv_files, name))
    relative = os.path.relpath(hv_files, path)
    spread_over_hypervisors(path, {second: second}, {first: dict(
        ssh_host=lab_hv['addresses'][first], ssh_user='root', ssh_port=port,
        ssh_key=os.path.join(relative, 'id_ed25519'), known_hosts=os.path.join(relative, 'known_hosts'))},
        {'lan': [first, second]})
    return PrefixState.load(Layout(path))


def test_the_engine_logs_in_through_the_jump_host_with_strict_keys(lab_hv, tmp_path):
    second = lab_hv['second']
    address = lab_hv['addresses'][second]
    jump = _jump(lab_hv)
    # (a) one channel through hv1, a login on it
    jumps = ssh.Jumps()
    try:
        channel = jumps.channel(jump, address)
        assert channel is not None
        assert ssh.try_login('root', address, lab_hv['key'], lab_hv['known_hosts'], sock=channel) is None
    finally:
        jumps.close()
    ready, pending = ssh.wait_for_logins({second: ('root', address, lab_hv['key'], lab_hv['known_hosts'], jump)},
                                         timeout=60)
    assert pending == [] and second in ready
    # the start's wait on a multi-host prefix goes the same way (state.jump_for)
    state = _prefix(lab_hv, str(tmp_path / 'prefix'), str(tmp_path / 'hv files'))
    assert state.jump_for(second).name == lab_hv['first']
    assert list(prefix_power.wait_for_ssh(state, timeout=60)) == [second]


@pytest.mark.parametrize('case', ['changed', 'unknown'])
def test_a_wrong_jump_host_key_is_refused_and_not_learnt(lab_hv, tmp_path, case):
    first, second = lab_hv['first'], lab_hv['second']
    known_hosts = tmp_path / 'known_hosts'
    if case == 'changed':  # the first hypervisor's name and address with the second's key
        key = _host_key_line(lab_hv['known_hosts'], second).split(None, 1)[1]
        known_hosts.write_text(u'%s,%s %s' % (first, lab_hv['addresses'][first], key))
    else:
        known_hosts.write_text(u'')
    before = known_hosts.read_text()
    why = {}
    started = time.monotonic()
    ready, pending = ssh.wait_for_logins(
        {second: ('root', lab_hv['addresses'][second], lab_hv['key'], lab_hv['known_hosts'],
                  _jump(lab_hv, known_hosts=str(known_hosts)))}, timeout=60, why=why)
    assert ready == {} and pending == [second]
    assert time.monotonic() - started < 30  # refused at once, not waited for to the budget
    assert ('hypervisor %s (root@%s port 22) refused' % (first, lab_hv['addresses'][first])) in why[second], why
    assert known_hosts.read_text() == before


def _ansible_ping(scratch, host):
    # no connection kept open: each ping makes its own, through the ProxyCommand
    env = dict(os.environ, ANSIBLE_INVENTORY_ENABLED='lago.lago.lago', ANSIBLE_LOCALHOST_WARNING='false',
               ANSIBLE_HOST_KEY_CHECKING='true', ANSIBLE_SSH_ARGS='-o ControlMaster=no')
    env.pop('ANSIBLE_CONFIG', None)
    return subprocess.run(['ansible', '-i', 'lab.lago.yml', host, '-m', 'ansible.builtin.ping', '-o'], cwd=scratch,
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=300, check=False)


def test_the_inventory_reaches_the_vm_through_a_proxy_command(lab_hv, tmp_path):
    second = lab_hv['second']
    scratch = tmp_path / 'scratch dir'
    # relative paths: the prefix in the inventory, the jump's files in state.json; a blank and a % in them
    _prefix(lab_hv, str(scratch / 'prefix'), str(scratch / 'hv 100%'))
    (scratch / 'lab.lago.yml').write_text(u'plugin: lago.lago.lago\nprefixes: [prefix]\n')
    proc = _ansible_ping(str(scratch), second)
    assert proc.returncode == 0 and '"ping": "pong"' in proc.stdout, proc.stdout + proc.stderr
    # the jump host's key is checked by the ProxyCommand's own ssh: a wrong one fails, and is not learnt
    known_hosts = scratch / 'hv 100%' / 'known_hosts'
    known_hosts.write_text(u'')
    proc = _ansible_ping(str(scratch), second)
    assert proc.returncode != 0 and 'UNREACHABLE' in proc.stdout, proc.stdout + proc.stderr
    assert known_hosts.read_text() == u''


def test_an_unreachable_jump_host_is_an_error_naming_it_within_the_budget(lab_hv, tmp_path):
    first, second = lab_hv['first'], lab_hv['second']
    state = _prefix(lab_hv, str(tmp_path / 'prefix'), str(tmp_path / 'hv'), port=1)  # nobody listens on port 1
    started = time.monotonic()
    with pytest.raises(PrefixError) as raised:
        prefix_power.wait_for_ssh(state, timeout=5)
    waited = time.monotonic() - started
    assert 'cannot reach hypervisor %s (root@%s port 1)' % (first, lab_hv['addresses'][first]) in str(raised.value)
    assert 'no SSH login within 5s (%s)' % second in str(raised.value)
    assert waited < 5 + ssh.JUMP_CONNECT_TIMEOUT, waited


@pytest.mark.slow
def test_a_vm_on_a_hypervisors_net_is_reached_only_through_it(lab_hv, lab_dir, lab_template_image, unique_name,
                                                              tmp_path):
    """A real VM on a NAT net that exists only in hv1's namespace: the controller has no route to
    it, the engine's wait and Ansible through the inventory reach it through hv1."""
    first = lab_hv['first']
    address = SUBNET + '.10'
    conn = connect('qemu+ssh://root@%s/system' % first)
    cleanup = Cleanup()
    try:
        make_nat_network(conn, unique_name, THIRD_OCTET, cleanup)
        vm = BootedVM(lab_dir, unique_name, lab_template_image, unique_name, address, SUBNET + '.1', jump=first)
        vm.start(conn, cleanup)
        vm.wait_for_ssh(conn=conn)  # follows the boot's progress (ProxyJump of the lab's ssh configuration)
        assert ssh.open_ssh(address) is None  # not reachable from the controller directly
        # a hand-written multi-host prefix holding this VM on hv1, reached through it
        prefix = str(tmp_path / 'prefix')
        record = vm_state('abab0010', unique_name, 10)
        record.update(address=address, libvirt_name=unique_name)
        record['nics'][0]['ip'] = address
        make_prefix(prefix, {unique_name: record})
        shutil.copy(vm.key, os.path.join(prefix, 'id_rsa'))
        with open(vm.known_hosts) as handle:  # under the VM's name too (the inventory's HostKeyAlias)
            line = handle.read()
        with open(os.path.join(prefix, 'known_hosts'), 'w') as handle:
            handle.write('%s,%s' % (unique_name, line))
        spread_over_hypervisors(prefix, {unique_name: first}, {first: dict(
            ssh_host=lab_hv['addresses'][first], ssh_key=lab_hv['key'], known_hosts=lab_hv['known_hosts'])})
        state = PrefixState.load(Layout(prefix))
        assert list(prefix_power.wait_for_ssh(state, timeout=60)) == [unique_name]
        (tmp_path / 'lab.lago.yml').write_text(u'plugin: lago.lago.lago\nprefixes: [prefix]\n')
        proc = _ansible_ping(str(tmp_path), unique_name)
        assert proc.returncode == 0 and '"ping": "pong"' in proc.stdout, proc.stdout + proc.stderr
    finally:
        cleanup.run()
