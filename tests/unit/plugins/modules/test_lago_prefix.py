# -*- coding: utf-8 -*-
"""lago_prefix's execute() over a fake libvirt and real files (qemu-img, ssh-keygen,
genisoimage): changed, check mode that predicts and touches nothing, diff only under
--diff, power plans, destroy that keeps a directory the user made, bad input named."""

from __future__ import absolute_import, division, print_function

import copy
import json
import multiprocessing
import os
import shutil
import subprocess
import time

import pytest

from ansible_collections.lago.lago.plugins.module_utils import errors, passwords, prefix_power, prefix_state
from ansible_collections.lago.lago.plugins.modules import lago_prefix
from ansible_collections.lago.lago.tests.unit.plugins.fake_libvirt import FakeConn
from ansible_collections.lago.lago.tests.unit.plugins.modules.module_helpers import listing, module_params

SPEC = {
    'domains': {'vm01': {'memory': 256, 'nics': [{'net': 'lan'}], 'root-password': 'hunter2',
                         'disks': [{'type': 'empty', 'name': 'root', 'dev': 'vda', 'size': '1M', 'format': 'qcow2'}]}},
    'nets': {'lan': {'type': 'nat', 'management': True}},
}
# A template disk without a template_repo: init fails at its disks, after the lease was taken.
TEMPLATE_DISK = dict(type='template', template_name='debian12', name='data', dev='vdb', format='qcow2')


@pytest.fixture
def conn(monkeypatch):
    fake = FakeConn()
    monkeypatch.setattr(lago_prefix, 'connect', lambda uri: fake)
    # stop asks the guest over SSH too: not in a unit test
    monkeypatch.setattr(prefix_power, '_request_poweroff', lambda state, name: subprocess.Popen(['true']))
    return fake


@pytest.fixture
def host(tmp_path):
    return dict(lease_dir=str(tmp_path / 'subnets'), template_store=str(tmp_path / 'store'))


def params(path, host, **extra):
    args = dict(path=str(path), spec=copy.deepcopy(SPEC), virt_type='qemu', wait_for_ssh=False, stop_timeout=1, **host)
    args.update(extra)
    return module_params(lago_prefix.ARGUMENT_SPEC, **args)


def run_module(make_run, check_mode=False, diff=False, **args):
    run = make_run(check_mode=check_mode, diff=diff, **args)
    return run.result(lago_prefix.execute(run))


def leases(host):
    found = host['lease_dir']
    return sorted(name for name in os.listdir(found) if name.endswith('.lease')) if os.path.isdir(found) else []


def test_init_changed_then_unchanged(make_run, conn, host, tmp_path):
    path = tmp_path / 'prefix'
    first = run_module(make_run, **params(path, host))
    assert first['changed'] is True and 'diff' not in first
    assert first['changes']['vms']['added'] == ['vm01'] and first['changes']['nets']['added'] == ['lan']
    prefix = first['prefix']
    assert prefix['path'] == str(path) and prefix['vms']['vm01']['state'] == 'shut off'
    assert prefix['nets']['lan']['subnet'] == '192.168.200.0/24' and leases(host) == ['200.lease']
    assert sorted(conn.domains) == ['%s-vm01' % prefix['short_id']]
    with open(str(path / 'state.json')) as handle:
        state = json.load(handle)
    assert state['status'] == 'ready' and state['created_dir'] is True and state['uuid'] == prefix['uuid']

    calls = len(conn.calls)
    again = run_module(make_run, **params(path, host))
    assert again['changed'] is False and again['prefix'] == prefix
    assert conn.calls[calls:] == [], 'an unchanged prefix must not touch libvirt'


def test_check_mode_predicts_without_touching_anything(make_run, conn, host, tmp_path):
    path = tmp_path / 'prefix'
    checked = run_module(make_run, check_mode=True, diff=True, **params(path, host))
    assert checked['changed'] is True and checked['prefix'] is None
    assert checked['changes']['vms']['added'] == ['vm01']
    assert checked['diff']['before'] == {'prefix': {}}
    assert sorted(checked['diff']['after']['prefix']['domains']) == ['vm01']
    assert checked['diff']['after']['prefix']['domains']['vm01']['root-password'] == '********'
    assert not os.path.exists(str(path)) and leases(host) == [] and conn.calls == []
    real = run_module(make_run, diff=True, **params(path, host))
    assert real['changes'] == checked['changes'] and real['diff'] == checked['diff']


def test_check_mode_of_a_change_predicts_the_real_run(make_run, conn, host, tmp_path):
    path = tmp_path / 'prefix'
    run_module(make_run, **params(path, host))
    bigger = params(path, host)
    bigger['spec']['domains']['vm01']['memory'] = 512
    bigger['spec']['domains']['vm02'] = copy.deepcopy(SPEC['domains']['vm01'])
    before = listing(str(path))
    checked = run_module(make_run, check_mode=True, diff=True, **bigger)
    assert checked['changed'] is True and checked['changes']['vms']['added'] == ['vm02']
    assert sorted(checked['changes']['vms']['changed']) == ['vm01']
    assert listing(str(path)) == before
    real = run_module(make_run, diff=True, **bigger)
    assert real['diff'] == checked['diff'] and sorted(real['prefix']['vms']) == ['vm01', 'vm02']
    assert real['prefix']['vms']['vm01']['memory'] == 512


def test_diff_only_under_diff_mode(make_run, conn, host, tmp_path):
    plain = run_module(make_run, **params(tmp_path / 'plain', host))
    assert plain['changed'] is True and 'diff' not in plain
    gone = run_module(make_run, diff=True, **params(tmp_path / 'plain', host, state='absent'))
    assert gone['diff']['before']['prefix']['uuid'] == plain['prefix']['uuid']
    assert gone['diff']['after'] == {'prefix': {}}


@pytest.mark.parametrize('change, must_contain', [
    (lambda spec: spec['domains']['vm01']['nics'][0].update(net='lan2'), ["domains.vm01.nics[0].net", "lan2"]),
    (lambda spec: spec['domains']['vm01'].update(colour='blue'), ['domains.vm01', 'colour']),
    (lambda spec: spec['nets']['lan'].update(type='wifi'), ['nets.lan.type', 'wifi']),
])
def test_bad_spec_names_the_key_and_leaves_nothing(make_run, conn, host, tmp_path, change, must_contain):
    args = params(tmp_path / 'prefix', host)
    change(args['spec'])
    with pytest.raises(errors.LagoError) as err:
        run_module(make_run, **args)
    for fragment in must_contain:
        assert fragment in str(err.value), (fragment, str(err.value))
    assert not os.path.exists(str(tmp_path / 'prefix')) and leases(host) == [] and conn.calls == []


def test_a_cpu_libvirt_cannot_give_is_refused_before_anything_is_made(make_run, conn, host, tmp_path):
    args = params(tmp_path / 'prefix', host)
    args['spec']['domains']['vm01']['cpu_model'] = 'host-passthrough'
    args['spec']['domains']['vm02'] = dict(copy.deepcopy(SPEC['domains']['vm01']), cpu_model='Skylake-Client')
    with pytest.raises(errors.SpecError) as err:
        run_module(make_run, **args)
    assert str(err.value).startswith('2 problems: domains.vm01.cpu_model: host-passthrough is not possible with '
                                     'virt_type qemu')
    assert 'domains.vm02.cpu_model: CPU model Skylake-Client is not usable' in str(err.value)
    assert not os.path.exists(str(tmp_path / 'prefix')) and leases(host) == []
    assert conn.calls == [('domain capabilities', 'qemu')]


def test_the_init_keys_are_applied_and_the_password_is_never_clear(make_run, conn, host, tmp_path):
    path = tmp_path / 'prefix'
    args = params(path, host)
    args['spec']['domains']['vm01'].update(cpu_model='Westmere', boot_time_sec=90, distro='debian')
    first = run_module(make_run, diff=True, **args)
    assert 'hunter2' not in json.dumps(first)
    with open(str(path / 'spec.json')) as handle:
        saved = json.load(handle)['domains']['vm01']
    assert saved['root-password'].startswith('$6$') and passwords.verify('hunter2', saved['root-password'])
    for name in ('spec.json', 'state.json', 'seeds/vm01.iso'):
        with open(str(path / name), 'rb') as handle:
            assert b'hunter2' not in handle.read(), name
    with open(str(path / 'seeds' / 'vm01.iso'), 'rb') as handle:
        assert saved['root-password'].encode('ascii') in handle.read()
    with open(str(path / 'state.json')) as handle:
        record = json.load(handle)['vms']['vm01']
    assert (record['cpu_model'], record['boot_time_sec'], record['distro']) == ('Westmere', 90, 'debian')
    dom = conn.domains['%s-vm01' % first['prefix']['short_id']]
    assert '<model fallback="forbid">Westmere</model>' in dom.xml
    again = run_module(make_run, diff=True, **params(path, host, spec=copy.deepcopy(args['spec'])))
    assert again['changed'] is False, 'the same clear password is no change'
    changed = copy.deepcopy(args['spec'])
    changed['domains']['vm01']['root-password'] = 'hunter3'
    with pytest.raises(errors.PrefixError) as err:
        run_module(make_run, **params(path, host, spec=changed))
    assert 'vm vm01 changes root-password' in str(err.value) and 'hunter' not in str(err.value)


def test_bootstrap_false_attaches_no_seed_and_is_not_waited_for(make_run, conn, host, tmp_path):
    path = tmp_path / 'prefix'
    args = params(path, host)
    del args['spec']['domains']['vm01']['root-password']
    args['spec']['domains']['vm01']['bootstrap'] = False
    args['spec']['domains']['vm02'] = copy.deepcopy(args['spec']['domains']['vm01'])
    args['spec']['domains']['vm02']['bootstrap'] = True
    made = run_module(make_run, **args)
    assert os.listdir(str(path / 'seeds')) == ['vm02.iso']
    short_id = made['prefix']['short_id']
    assert '.iso' not in conn.domains['%s-vm01' % short_id].xml and '.iso' in conn.domains['%s-vm02' % short_id].xml
    with prefix_state.open_prefix(str(path)) as state:
        assert state.vm('vm01').seed is None and state.vm('vm01').host_key is None
        assert prefix_power.wait_for_ssh(state, ['vm01'], timeout=0.1) == {}


def test_changes_an_existing_prefix_cannot_take_are_refused_by_name(make_run, conn, host, tmp_path):
    path = tmp_path / 'prefix'
    run_module(make_run, **params(path, host))
    before = listing(str(path))
    args = params(path, host)
    args['spec']['nets']['storage'] = {'type': 'nat'}
    with pytest.raises(errors.PrefixError) as err:
        run_module(make_run, **args)
    assert 'net storage would be added' in str(err.value)
    assert listing(str(path)) == before and leases(host) == ['200.lease']


def test_failed_init_removes_what_it_made(make_run, conn, host, tmp_path):
    args = params(tmp_path / 'prefix', host)
    args['spec']['domains']['vm01']['disks'].append(TEMPLATE_DISK)  # fails after the lease was taken
    with pytest.raises(errors.PrefixError) as err:
        run_module(make_run, **args)
    assert 'init of prefix %s failed at step "disks of vm01"' % (tmp_path / 'prefix') in str(err.value)
    assert 'needs template debian12 but no template_repo was given' in str(err.value)
    assert 'everything this run created was removed again' in str(err.value)
    assert not os.path.exists(str(tmp_path / 'prefix')) and leases(host) == []
    assert conn.networks == {} and conn.domains == {}


def test_failed_init_in_a_user_directory_leaves_only_the_users_files(make_run, conn, host, tmp_path):
    path = tmp_path / 'mine'
    path.mkdir()
    (path / 'notes.txt').write_text('mine')
    args = params(path, host)
    args['spec']['domains']['vm01']['disks'].append(TEMPLATE_DISK)
    with pytest.raises(errors.PrefixError) as err:
        run_module(make_run, **args)
    assert 'failed at step "disks of vm01"' in str(err.value)
    assert listing(str(path)) == ['notes.txt'] and leases(host) == [] and conn.networks == {}


def test_interrupted_init_is_finished_by_the_next_run(make_run, conn, host, tmp_path):
    path = tmp_path / 'prefix'
    first = run_module(make_run, **params(path, host))
    state_file = str(path / 'state.json')
    with open(state_file) as handle:
        state = json.load(handle)
    state['status'] = 'initializing'  # as if the process died before the end
    with open(state_file, 'w') as handle:
        json.dump(state, handle)
    second = run_module(make_run, **params(path, host))
    assert second['changed'] is True and leases(host) == ['200.lease']
    assert second['prefix']['uuid'] != first['prefix']['uuid']
    assert sorted(conn.domains) == ['%s-vm01' % second['prefix']['short_id']]
    with open(state_file) as handle:
        assert json.load(handle)['created_dir'] is True, 'the directory is still the one init made'


def test_started_then_stopped(make_run, conn, host, tmp_path):
    path = tmp_path / 'prefix'
    run_module(make_run, **params(path, host))
    checked = run_module(make_run, check_mode=True, diff=True, **params(path, host, state='started', spec=None))
    assert checked['changed'] is True and checked['started'] == ['net:lan', 'vm01']
    assert checked['diff']['before']['power'] == {'vm01': 'shut off', 'net:lan': 'inactive'}
    assert checked['diff']['after']['power'] == {'vm01': 'running', 'net:lan': 'active'}
    assert not any(dom.running for dom in conn.domains.values())
    started = run_module(make_run, diff=True, **params(path, host, state='started', spec=None))
    assert started['started'] == ['net:lan', 'vm01'] and started['diff'] == checked['diff']
    assert started['prefix']['vms']['vm01']['state'] == 'running'
    again = run_module(make_run, **params(path, host, state='started'))
    assert again['changed'] is False and again['started'] == []

    stop_check = run_module(make_run, check_mode=True, **params(path, host, state='stopped', spec=None))
    assert stop_check['changed'] is True and stop_check['started'] == ['vm01', 'net:lan']
    assert all(dom.running for dom in conn.domains.values())
    stopped = run_module(make_run, **params(path, host, state='stopped', spec=None))
    assert stopped['started'] == ['vm01', 'net:lan'] and stopped['prefix']['vms']['vm01']['state'] == 'shut off'
    assert run_module(make_run, **params(path, host, state='stopped', spec=None))['changed'] is False


def test_started_names_an_unknown_vm(make_run, conn, host, tmp_path):
    path = tmp_path / 'prefix'
    run_module(make_run, **params(path, host))
    with pytest.raises(errors.PrefixError) as err:
        run_module(make_run, **params(path, host, state='started', spec=None, vms=['vm09']))
    assert 'vms vm09 are not in the prefix (it has: vm01)' in str(err.value)
    assert not any(dom.running for dom in conn.domains.values())


def test_started_on_a_missing_prefix_makes_nothing(make_run, conn, host, tmp_path):
    with pytest.raises(errors.PrefixError) as err:
        run_module(make_run, **params(tmp_path / 'prefix', host, state='started', spec=None))
    assert 'not an initialized lago prefix' in str(err.value)
    assert not os.path.exists(str(tmp_path / 'prefix'))


def test_destroy_keeps_a_directory_the_user_made(make_run, conn, host, tmp_path):
    path = tmp_path / 'mine'
    path.mkdir()
    (path / 'notes.txt').write_text('my notes')
    made = run_module(make_run, **params(path, host))
    assert made['changed'] is True and 'notes.txt' in listing(str(path))
    run_module(make_run, **params(path, host, state='started', spec=None))
    checked = run_module(make_run, check_mode=True, **params(path, host, state='absent'))
    assert checked['changed'] is True and leases(host) == ['200.lease'] and conn.domains
    gone = run_module(make_run, **params(path, host, state='absent'))
    assert gone['changed'] is True
    assert listing(str(path)) == ['notes.txt'] and os.listdir(str(path)) == ['notes.txt']
    assert (path / 'notes.txt').read_text() == 'my notes'
    assert leases(host) == [] and conn.domains == {} and conn.networks == {}
    assert run_module(make_run, **params(path, host, state='absent'))['changed'] is False


def test_destroy_removes_the_directory_init_made(make_run, conn, host, tmp_path):
    path = tmp_path / 'prefix'
    run_module(make_run, **params(path, host))
    gone = run_module(make_run, **params(path, host, state='absent'))
    assert gone['changed'] is True and 'directory %s' % path in gone['removed']
    assert not os.path.exists(str(path)) and leases(host) == [] and conn.domains == {} and conn.networks == {}
    assert run_module(make_run, **params(path, host, state='absent')) == dict(changed=False, removed=[])


def test_destroy_leaves_a_directory_that_is_not_a_prefix_alone(make_run, conn, host, tmp_path):
    path = tmp_path / 'other'
    path.mkdir()
    (path / 'precious.txt').write_text('x')
    run = make_run(**params(path, host, state='absent'))
    result = run.result(lago_prefix.execute(run))
    assert result == dict(changed=False, removed=[])
    assert run.module.warnings == ['%s is not a lago prefix (no state.json): nothing removed' % path]
    assert listing(str(path)) == ['precious.txt']


def hold_lock(path, seconds, then=None):
    """Another process holding the prefix's lock for ``seconds`` (then calling ``then()``); returns it once it holds it."""
    ready = multiprocessing.get_context('fork').Event()

    def holder():
        with prefix_state.lock(prefix_state.Layout(str(path)), what='the other run'):
            ready.set()
            time.sleep(seconds)
            if then is not None:
                then()
    proc = multiprocessing.get_context('fork').Process(target=holder)
    proc.start()
    assert ready.wait(10)
    return proc


def test_a_second_run_waits_for_the_lock_then_converges(make_run, conn, host, tmp_path):
    path = tmp_path / 'prefix'
    built = run_module(make_run, **params(path, host))
    other = hold_lock(path, 1.0)
    since = time.monotonic()
    again = run_module(make_run, **params(path, host))
    other.join()
    assert time.monotonic() - since >= 0.9, 'it waited for the lock'
    assert again['changed'] is False and again['prefix'] == built['prefix']


def test_a_run_that_cannot_get_the_lock_fails_naming_it_and_changes_nothing(make_run, conn, host, tmp_path):
    path = tmp_path / 'prefix'
    run_module(make_run, **params(path, host))
    before = listing(str(path))
    other = hold_lock(path, 3.0)
    try:
        with pytest.raises(errors.PrefixBusy) as err:
            run_module(make_run, **params(path, host, state='absent', lock_timeout=0.5))
    finally:
        other.join()
    assert 'prefix %s is busy: held by pid %d' % (path, other.pid) in str(err.value)
    assert '(the other run)' in str(err.value) and 'nothing was changed' in str(err.value)
    assert listing(str(path)) == before and leases(host) == ['200.lease']


def test_a_run_that_waited_for_a_destroy(make_run, conn, host, tmp_path):
    path = tmp_path / 'prefix'
    run_module(make_run, **params(path, host))
    other = hold_lock(path, 1.0, then=lambda: shutil.rmtree(str(path)))
    gone = run_module(make_run, **params(path, host, state='absent'))
    other.join()
    assert gone == dict(changed=False, removed=[])
    run_module(make_run, **params(path, host))
    other = hold_lock(path, 1.0, then=lambda: shutil.rmtree(str(path)))
    with pytest.raises(errors.PrefixError) as err:
        run_module(make_run, **params(path, host, state='started', spec=None))
    other.join()
    assert 'was removed by another run while this one waited for its lock; nothing was changed' in str(err.value)
    assert not os.path.exists(str(path))


def test_a_prefix_whose_state_is_damaged_is_destroyed_from_its_uuid(make_run, conn, host, tmp_path):
    # Before: init and destroy both said "state.json is damaged ...; destroy the prefix
    # (lago_prefix state=absent)", and state=absent failed with that same message.
    path = tmp_path / 'prefix'
    made = run_module(make_run, **params(path, host))['prefix']
    (path / 'notes.txt').write_text('the user keeps this')
    (path / 'state.json').write_text('{"version": 1, "vms": {"vm01"')
    with pytest.raises(errors.PrefixDamaged) as err:
        run_module(make_run, **params(path, host))
    assert str(err.value).startswith('%s is damaged (not valid JSON' % (path / 'state.json'))
    short = made['short_id']
    planned = run_module(make_run, check_mode=True, diff=True, **params(path, host, state='absent'))
    assert planned['changed'] and planned['diff']['before']['prefix']['status'] == 'damaged'
    assert sorted(conn.domains) == ['%s-vm01' % short] and sorted(conn.networks) == ['%s-lan' % short]
    assert leases(host) == ['200.lease'] and (path / 'uuid').exists()
    gone = run_module(make_run, **params(path, host, state='absent'))
    assert gone['changed'] and 'domain %s-vm01' % short in gone['removed']
    assert conn.domains == {} and conn.networks == {} and leases(host) == []
    assert sorted(os.listdir(str(path))) == ['notes.txt'], 'the prefix files go, the user file stays'
    assert not run_module(make_run, **params(path, host, state='absent'))['changed']
    (path / 'notes.txt').unlink()
    run_module(make_run, **params(path, host))
    (path / 'state.json').write_text('[]')
    run_module(make_run, **params(path, host, state='absent'))
    assert not path.exists(), 'a directory left empty goes too'
