# -*- coding: utf-8 -*-
"""prefix_state: the state file, its records and the per-prefix lock."""

from __future__ import absolute_import, division, print_function

import json
import multiprocessing
import os
import stat
import threading
import time

import pytest

from ansible_collections.lago.lago.plugins.module_utils import prefix_state, ssh
from ansible_collections.lago.lago.plugins.module_utils.errors import PrefixBusy, PrefixError
from ansible_collections.lago.lago.plugins.module_utils.prefix_state import Layout, PrefixState, open_prefix


def _saved(tmp_path, **extra):
    layout = Layout(str(tmp_path / 'p'))
    os.makedirs(layout.path)
    state = PrefixState.new(layout, uuid='a' * 32, short_id='aaaaaaaa', **extra)
    state.add_net('lan', dict(libvirt_name='aaaaaaaa-lan', subnet='192.168.200.0/24', management=True))
    state.add_vm('vm01', dict(libvirt_name='aaaaaaaa-vm01', management_net='lan', address='192.168.200.2',
                              nics=[dict(net='lan', mac='54:52:c0:a8:c8:02', ip='192.168.200.2')],
                              disks=[dict(name='root', dev='vda', path='/x/root.qcow2', format='qcow2')]))
    state.save()
    return layout


def test_records_write_through_and_save(tmp_path):
    layout = _saved(tmp_path)
    state = PrefixState.load(layout)
    vm = state.vm('vm01')
    assert vm.libvirt_name == 'aaaaaaaa-vm01'
    assert [nic.ip for nic in vm.nics] == ['192.168.200.2']
    assert vm.disk('root').owned is True
    vm.disk('root').add_layer('/x/root.s1.qcow2', backing='/x/base')
    vm.set_snapshot('s1', dict(taken='t', running=False, disks={}))
    vm.memory = 2048
    state.save()
    again = PrefixState.load(layout).vm('vm01')
    assert again.memory == 2048
    assert list(again.disk('root').layers) == ['/x/root.s1.qcow2']
    assert again.snapshot('s1').taken == 't'
    assert stat.S_IMODE(os.stat(layout.state_file).st_mode) == 0o600


def test_unknown_vm_names_the_prefix_and_its_vms(tmp_path):
    state = PrefixState.load(_saved(tmp_path))
    with pytest.raises(PrefixError, match=r'vm web is not in prefix .* \(it has: vm01\)'):
        state.vm('web')
    with pytest.raises(PrefixError, match='vms db, web are not in the prefix'):
        state.chosen_vms(['web', 'db', 'vm01'])
    assert state.chosen_vms(None) == ['vm01']


@pytest.mark.parametrize('content, message', [
    ('{"version": 1, "vms": {', 'is damaged (not valid JSON'),
    ('[]', 'is damaged (not a JSON object)'),
    ('{"version": 7}', 'version 7 is not supported'),
    ('{"version": 1, "vms": []}', 'is damaged (vms is not a mapping)'),
])
def test_bad_state_files_are_prefix_errors(tmp_path, content, message):
    layout = Layout(str(tmp_path))
    with open(layout.state_file, 'w') as handle:
        handle.write(content)
    with pytest.raises(PrefixError, match=message.replace('(', r'\(').replace(')', r'\)')):
        PrefixState.load(layout)


def test_missing_prefix_fails_before_anything_is_made(tmp_path):
    path = str(tmp_path / 'nothing')
    with pytest.raises(PrefixError, match='is not an initialized lago prefix'):
        with open_prefix(path):
            pass
    assert not os.path.exists(path)


def test_new_prefix_directory_is_private_and_removed_when_nothing_was_saved(tmp_path):
    path = str(tmp_path / 'new')
    with open_prefix(path, must_exist=False) as state:
        assert state.dir_created_now and state.created_dir
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
        assert not state.layout.initialized
    assert not os.path.exists(path)
    with pytest.raises(RuntimeError):
        with open_prefix(path, must_exist=False):
            raise RuntimeError('boom')
    assert not os.path.exists(path)


def test_users_directory_is_kept(tmp_path):
    path = str(tmp_path / 'mine')
    os.makedirs(path)
    with open_prefix(path, must_exist=False) as state:
        assert not state.created_dir
    assert os.path.isdir(path)


def _hold(path, ready, release):
    with prefix_state.lock(Layout(path), what='holder'):
        ready.set()
        release.wait(30)


def test_busy_prefix_names_the_holder(tmp_path):
    layout = _saved(tmp_path)
    ready, release = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(layout.path, ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        started = time.monotonic()
        with pytest.raises(PrefixBusy) as caught:
            with open_prefix(layout.path, timeout=0.3):
                pass
        assert time.monotonic() - started < 10
        assert 'prefix %s is busy: held by pid %d since ' % (layout.path, holder.pid) in str(caught.value)
        assert '(holder)' in str(caught.value)
    finally:
        release.set()
        holder.join(30)
    with open_prefix(layout.path, timeout=5) as state:  # free again once the holder is gone
        assert state.vm_names == ['vm01']
    record = json.loads(open(layout.lock_file).read())
    assert record['pid'] == os.getpid()


def test_lock_is_reentrant_within_a_process(tmp_path):
    layout = _saved(tmp_path)
    with open_prefix(layout.path, timeout=0.2):
        with open_prefix(layout.path, timeout=0.2) as inner:
            assert inner.vm_names == ['vm01']


def _init_then_fail(path, ready, release):
    try:
        with open_prefix(path, must_exist=False):
            ready.set()
            release.wait(30)
            raise RuntimeError('init failed')
    except RuntimeError:
        pass


def test_a_waiter_never_works_in_a_directory_a_failed_init_removed(tmp_path):
    path = str(tmp_path / 'p')
    ready, release = multiprocessing.Event(), multiprocessing.Event()
    first = multiprocessing.Process(target=_init_then_fail, args=(path, ready, release))
    first.start()
    try:
        assert ready.wait(30)
        layout = Layout(path)
        # Let the init fail only once this run waits in flock for the lock it holds.
        threading.Timer(1.0, release.set).start()
        with pytest.raises(PrefixError, match='was removed by another run while this one waited'):
            with prefix_state.lock(layout, timeout=20):
                pass
    finally:
        release.set()
        first.join(30)
    assert not os.path.exists(path)


def test_zero_lock_timeout_means_do_not_wait(make_run, tmp_path):
    layout = _saved(tmp_path)
    ready, release = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(layout.path, ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        run = make_run(lock_timeout=0)
        started = time.monotonic()
        with pytest.raises(PrefixBusy, match=r'waited 0(\.0)?s'):
            with run.open_prefix(layout.path):
                pass
        assert time.monotonic() - started < 5
    finally:
        release.set()
        holder.join(30)


def _readers(layout):
    """Every way the engine reads state.json, each wanting a clear PrefixError."""
    from ansible_collections.lago.lago.plugins.module_utils import host_view

    def through_open_prefix():
        with open_prefix(layout.path):
            pass
    return [lambda: prefix_state.read_state_file(layout), lambda: PrefixState.load(layout),
            through_open_prefix, lambda: host_view.read_prefix(layout.path)]


@pytest.mark.parametrize('cut', [1, 0.5, -2])
def test_a_truncated_state_file_names_the_file_on_every_reader(tmp_path, cut):
    layout = _saved(tmp_path)
    whole = open(layout.state_file, 'rb').read().rstrip()
    assert not os.path.exists(layout.lock_file)
    with open(layout.state_file, 'wb') as handle:
        handle.write(whole[:int(len(whole) * cut) if isinstance(cut, float) else cut])
    for read in _readers(layout):
        with pytest.raises(PrefixError) as err:
            read()
        # The message must name the file, say it is damaged and why, and what to do.
        message = str(err.value)
        assert message.startswith('%s is damaged (not valid JSON: ' % layout.state_file), message
        assert 'lago_prefix state=absent' in message
    assert not os.path.exists(layout.lock_file)  # refused before the lock file is made


@pytest.mark.parametrize('content', ['[]', '"state"', '3', 'null', '[{"version": 1}]'])
def test_a_state_file_of_the_wrong_top_level_type_names_the_file(tmp_path, content):
    layout = _saved(tmp_path)
    with open(layout.state_file, 'w') as handle:
        handle.write(content)
    for read in _readers(layout):
        with pytest.raises(PrefixError) as err:
            read()
        assert str(err.value).startswith('%s is damaged (not a JSON object)' % layout.state_file)


def test_a_state_file_that_is_not_utf8_names_the_file(tmp_path):
    layout = _saved(tmp_path)
    with open(layout.state_file, 'wb') as handle:
        handle.write(b'{"version": 1, "vms": {"\xff": {}}}')
    with pytest.raises(PrefixError) as err:
        prefix_state.read_state_file(layout)
    assert str(err.value).startswith('%s is damaged (not valid JSON: ' % layout.state_file)


def test_a_vm_records_its_hypervisor_and_old_state_files_read_as_local(tmp_path):
    layout = _saved(tmp_path)  # a VM record without the key, as every state file before multi-host
    state = PrefixState.load(layout)
    assert state.vm('vm01').hypervisor is None
    state.vm('vm01').hypervisor = 'hv2'
    state.save()
    with open(layout.state_file) as handle:
        assert json.load(handle)['vms']['vm01']['hypervisor'] == 'hv2'
    assert PrefixState.load(layout).vm('vm01').hypervisor == 'hv2'


# --- the hypervisors of a multi-host prefix (docs/MULTIHOST.md) ------------------------------

def _multihost(tmp_path, **hv1):
    layout = _saved(tmp_path)
    state = PrefixState.load(layout)
    state.add_vm('vm02', dict(state.vm('vm01').to_dict(), libvirt_name='aaaaaaaa-vm02', address='192.168.200.3'))
    state.vm('vm01').hypervisor = 'hv1'
    state.vm('vm02').hypervisor = 'hv2'
    state.net('lan').update(hypervisors=['hv2', 'hv1'])
    state.set('hypervisors', {
        'hv1': dict(dict(ssh_host='192.168.250.11', ssh_user='root', ssh_port=22, ssh_key='/k/id', known_hosts='/k/kh'),
                    **hv1),
        'hv2': dict(ssh_host='hv2.example', ssh_key='keys/id', known_hosts='~/kh', ssh_port='2222'),
    })
    state.save()
    return PrefixState.load(layout)


def test_a_single_host_prefix_has_no_hypervisors_and_no_jump(tmp_path):
    state = PrefixState.load(_saved(tmp_path))
    assert state.hypervisors == {} and state.net('lan').hypervisors == []
    assert state.vm('vm01').hypervisor is None and state.jump_for('vm01') is None


def test_a_vm_is_reached_through_the_first_hypervisor_of_its_management_net(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', '/home/me')
    state = _multihost(tmp_path)
    assert sorted(state.hypervisors) == ['hv1', 'hv2'] and state.net('lan').hypervisors == ['hv2', 'hv1']
    assert state.hypervisor('hv1').ssh_host == '192.168.250.11'
    assert state.hypervisor('hv2').ssh_user == 'root'  # the default user
    # lan's gateway is on hv2: vm01 (on hv1) is reached through hv2 too; relative and ~ paths resolved
    expected = ssh.Jump('hv2', 'hv2.example', 2222, 'root', os.path.join(state.path, 'keys/id'), '/home/me/kh')
    assert state.jump_for('vm01') == expected and state.jump_for(state.vm('vm02')) == expected
    # a net that records no hypervisors: the VM's own
    state.net('lan').update(hypervisors=None)
    assert state.jump_for('vm01') == ssh.Jump('hv1', '192.168.250.11', 22, 'root', '/k/id', '/k/kh')


def test_a_jump_the_state_does_not_describe_is_an_error_naming_the_vm_and_key(tmp_path):
    state = _multihost(tmp_path, ssh_key=None)
    state.net('lan').update(hypervisors=['hv1'])
    with pytest.raises(PrefixError, match=r'^VM vm01 is reached through hypervisor hv1, but .*state.json: '
                                          r'hypervisors.hv1 has no ssh_key$'):
        state.jump_for('vm01')
    state = _multihost(tmp_path / 'port', ssh_port='ssh')
    state.net('lan').update(hypervisors=['hv1'])
    with pytest.raises(PrefixError, match=r"hypervisors.hv1.ssh_port must be a port number, not 'ssh'"):
        state.jump_for('vm02')
    state.net('lan').update(hypervisors=['hv9'])
    with pytest.raises(PrefixError, match=r'^VM vm01 is reached through hypervisor hv9: hypervisor hv9 is not in '
                                          r'.*state.json \(it has: hv1, hv2\)$'):
        state.jump_for('vm01')
