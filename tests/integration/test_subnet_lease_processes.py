# -*- coding: utf-8 -*-
"""Subnet leases across real processes: concurrency, stale owners, a killed lock holder."""

from __future__ import absolute_import, division, print_function

import multiprocessing
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from ansible_collections.lago.lago.plugins.module_utils import lease_owner
from ansible_collections.lago.lago.plugins.module_utils import subnet_lease as sl
from ansible_collections.lago.lago.plugins.module_utils.errors import LockTimeout
from ansible_collections.lago.lago.plugins.module_utils.files import file_lock

pytestmark = pytest.mark.lab

CTX = multiprocessing.get_context('fork')


def _lease_one(lease_dir, owner_path, barrier, results):
    owner = lease_owner.ensure_owner(owner_path)[0]
    barrier.wait()
    try:
        results.put((owner_path, sl.acquire(lease_dir, owner, timeout=20)['subnet']))
    except Exception as err:  # reported to the parent, which fails the test
        results.put((owner_path, 'error: %s' % err))


def _lease_at_once(lease_dir, owner_paths):
    """Start one process per owner, release them together; {owner path: subnet}."""
    barrier, results = CTX.Barrier(len(owner_paths)), CTX.Queue()
    procs = [CTX.Process(target=_lease_one, args=(lease_dir, path, barrier, results))
             for path in owner_paths]
    for proc in procs:
        proc.start()
    got = dict(results.get(timeout=60) for _proc in procs)
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    return got


def test_twenty_processes_get_distinct_subnets_then_reclaim_stale(tmp_path):
    lease_dir = str(tmp_path / 'subnets')
    first = [str(tmp_path / ('a%02d' % i) / 'uuid') for i in range(20)]
    got = _lease_at_once(lease_dir, first)
    assert not [value for value in got.values() if value.startswith('error')], got
    assert len(set(got.values())) == 20
    leases = sl.list_leases(lease_dir)
    assert len(leases) == 20 and all(lease['alive'] for lease in leases)
    assert {lease['owner']: lease['subnet'] for lease in leases} == got

    for path in first:
        os.unlink(path)
    assert not any(lease['alive'] for lease in sl.list_leases(lease_dir))
    second = [str(tmp_path / ('b%02d' % i) / 'uuid') for i in range(20)]
    regot = _lease_at_once(lease_dir, second)
    # The stale leases are the lowest /24s of the pool, so they are taken again.
    assert set(regot.values()) == set(got.values())
    leases = sl.list_leases(lease_dir)
    assert sorted(lease['owner'] for lease in leases) == sorted(second)
    assert all(lease['alive'] for lease in leases)


def _hold_lock(lock_path, ready):
    with file_lock(lock_path):
        ready.set()
        time.sleep(120)


def test_lock_holder_killed_with_sigkill_does_not_block(tmp_path):
    lease_dir = str(tmp_path / 'subnets')
    owner = lease_owner.ensure_owner(str(tmp_path / 'p' / 'uuid'))[0]
    ready = CTX.Event()
    holder = CTX.Process(target=_hold_lock, args=(os.path.join(lease_dir, sl.LOCK_NAME), ready))
    holder.start()
    try:
        assert ready.wait(10)
        with pytest.raises(LockTimeout):
            sl.acquire(lease_dir, owner, timeout=0.3)
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.join(10)
    assert holder.exitcode == -signal.SIGKILL
    started = time.monotonic()
    assert sl.acquire(lease_dir, owner, timeout=5)['subnet'] == '192.168.200.0/24'
    assert time.monotonic() - started < 1


def _die_before_rename(lease_dir, owner_path, ready):
    """Lease, but stop for good between writing the temp file and renaming it."""
    def stuck(*_args):
        ready.set()
        time.sleep(120)
    os.rename = stuck
    sl.acquire(lease_dir, lease_owner.read_owner(owner_path))


def test_writer_killed_mid_write_leaves_no_half_lease(tmp_path):
    lease_dir = str(tmp_path / 'subnets')
    dead = lease_owner.ensure_owner(str(tmp_path / 'dead' / 'uuid'))[0]
    ready = CTX.Event()
    writer = CTX.Process(target=_die_before_rename, args=(lease_dir, dead.path, ready))
    writer.start()
    try:
        assert ready.wait(10)
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.join(10)
    assert [name for name in os.listdir(lease_dir) if name.endswith('.tmp')]
    assert sl.list_leases(lease_dir) == []
    owner = lease_owner.ensure_owner(str(tmp_path / 'p' / 'uuid'))[0]
    assert sl.acquire(lease_dir, owner, timeout=5)['subnet'] == '192.168.200.0/24'
    assert not [name for name in os.listdir(lease_dir) if name.endswith('.tmp')]


def _ensure_one(owner_path, barrier, results):
    barrier.wait()
    try:
        owner, created = lease_owner.ensure_owner(owner_path)
        results.put((owner.uuid, created))
    except Exception as err:  # reported to the parent, which fails the test
        results.put(('error: %s' % err, False))


@pytest.mark.parametrize('round_', range(5))
def test_eight_processes_creating_one_owner_agree_on_one_uuid(tmp_path, round_):
    owner_path = str(tmp_path / 'prefix' / 'uuid')
    barrier, results = CTX.Barrier(8), CTX.Queue()
    procs = [CTX.Process(target=_ensure_one, args=(owner_path, barrier, results)) for _i in range(8)]
    for proc in procs:
        proc.start()
    got = [results.get(timeout=60) for _proc in procs]
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    uuids = set(value for value, _created in got)
    assert len(uuids) == 1, 'every process must see the one uuid on disk, got %s' % sorted(uuids)
    assert [created for _value, created in got].count(True) == 1, got
    assert lease_owner.read_owner(owner_path).uuid == uuids.pop()
    assert os.listdir(str(tmp_path / 'prefix')) == ['uuid'], 'no temp file may be left behind'


NOBODY = 65534


def _lease_as_nobody(lease_dir, owner_path, results):
    try:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        owner = lease_owner.ensure_owner(owner_path)[0]
        results.put(sl.acquire(lease_dir, owner, timeout=10)['subnet'])
    except Exception as err:  # reported to the parent, which fails the test
        results.put('error: %s' % err)


@pytest.fixture
def shared_dir():
    """A directory any user can write (tmp_path's parents are root's alone)."""
    path = tempfile.mkdtemp(prefix='lago-lease-test-', dir='/tmp')
    os.chmod(path, 0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason='needs root to act as another user')
def test_leases_another_user_cannot_read_count_as_taken(shared_dir):
    """Unreadable to the caller: a lease file (0600) and a live owner's uuid file (0700 directory)."""
    lease_dir = os.path.join(shared_dir, 'subnets')
    private = os.path.join(shared_dir, 'root-only')
    os.makedirs(private, mode=0o700)
    first = lease_owner.ensure_owner(os.path.join(private, 'p1', 'uuid'))[0]
    second = lease_owner.ensure_owner(os.path.join(private, 'p2', 'uuid'))[0]
    assert sl.acquire(lease_dir, first)['octet'] == 200
    assert sl.acquire(lease_dir, second)['octet'] == 201
    os.chmod(sl.lease_path(lease_dir, 200), 0o600)
    os.chmod(lease_dir, 0o777)
    os.chmod(os.path.join(lease_dir, sl.LOCK_NAME), 0o666)
    with open(sl.lease_path(lease_dir, 200), 'rb') as handle:
        before = handle.read()
    results = CTX.Queue()
    proc = CTX.Process(target=_lease_as_nobody, args=(lease_dir, os.path.join(shared_dir, 'nobody', 'uuid'), results))
    proc.start()
    got = results.get(timeout=60)
    proc.join(30)
    assert got == '192.168.202.0/24', 'the unreadable leases 200 and 201 must count as taken, got %s' % got
    with open(sl.lease_path(lease_dir, 200), 'rb') as handle:
        assert handle.read() == before
    assert os.stat(sl.lease_path(lease_dir, 200)).st_uid == 0
    assert [lease['owner'] for lease in sl.list_leases(lease_dir)][:2] == [first.path, second.path]


def _lease_then_die(lease_dir, owner_path, leased):
    """Like init: make the owner, lease a subnet, then get SIGKILLed before saving state.json."""
    owner = lease_owner.ensure_owner(owner_path)[0]
    sl.acquire(lease_dir, owner)
    sl.acquire(lease_dir, owner)
    leased.set()
    os.kill(os.getpid(), signal.SIGKILL)


def test_leases_of_a_run_killed_before_saving_its_state_are_found_and_released(tmp_path):
    lease_dir = str(tmp_path / 'subnets')
    owner_path = str(tmp_path / 'prefix' / 'uuid')
    leased = CTX.Event()
    proc = CTX.Process(target=_lease_then_die, args=(lease_dir, owner_path, leased))
    proc.start()
    proc.join(30)
    assert proc.exitcode == -signal.SIGKILL and leased.is_set()
    owner = lease_owner.read_owner(owner_path)
    # The owner's uuid file is there, so nobody else may take them: only release_all frees them.
    other = lease_owner.ensure_owner(str(tmp_path / 'other' / 'uuid'))[0]
    assert sl.acquire(lease_dir, other)['subnet'] == '192.168.202.0/24'
    assert [lease['subnet'] for lease in sl.leases_of(lease_dir, owner)] == ['192.168.200.0/24', '192.168.201.0/24']
    assert sl.release_all(lease_dir, owner) == ['192.168.200.0/24', '192.168.201.0/24']
    assert sl.leases_of(lease_dir, owner) == []
    assert [lease['owner'] for lease in sl.list_leases(lease_dir)] == [other.path]
    assert sl.acquire(lease_dir, other)['subnet'] == '192.168.200.0/24'


# --- subnets the lab's own kernel and libvirt already use ------------------------

def _own_network_namespace():
    """True inside the lab's network namespace (never add interfaces to the machine's own)."""
    lab = os.environ.get('LAGO_LAB')
    found = subprocess.run(['ip', 'netns', 'identify', str(os.getpid())], stdout=subprocess.PIPE,
                           universal_newlines=True, check=False).stdout.split()
    return bool(lab) and lab in found


@pytest.fixture
def dummy_interface(unique_name):
    if not _own_network_namespace():
        pytest.fail('this test adds an interface: run it inside the lab (hack/lab exec)')
    # A dummy interface; kernels without the dummy driver (this lab's) get an empty bridge instead.
    if subprocess.call(['ip', 'link', 'add', unique_name, 'type', 'dummy'], stderr=subprocess.DEVNULL) != 0:
        subprocess.check_call(['ip', 'link', 'add', unique_name, 'type', 'bridge'])
    try:
        yield unique_name
    finally:
        subprocess.call(['ip', 'link', 'del', unique_name])
    assert unique_name not in subprocess.check_output(['ip', '-o', 'link'], universal_newlines=True)


def test_lease_skips_a_subnet_with_an_address_on_a_dummy_interface(tmp_path, dummy_interface):
    lease_dir = str(tmp_path / 'subnets')
    owner = lease_owner.ensure_owner(str(tmp_path / 'p' / 'uuid'))[0]
    first = sl.acquire(lease_dir, owner, dry_run=True)
    gateway = '%s/24' % first['gateway']
    subprocess.check_call(['ip', 'addr', 'add', gateway, 'dev', dummy_interface])  # link down: no route yet
    lease = sl.acquire(lease_dir, owner)
    assert lease['octet'] > first['octet'], 'the first candidate %s holds an address' % first['subnet']
    with pytest.raises(sl.LeaseError) as err:
        sl.acquire(lease_dir, owner, subnet=first['subnet'])
    assert str(err.value).startswith('subnet %s is already in use on this host: address %s on interface %s; '
                                     % (first['subnet'], gateway, dummy_interface))
    assert str(err.value).endswith('; ask for another subnet or remove that first')
    subprocess.check_call(['ip', 'link', 'set', dummy_interface, 'up'])
    with pytest.raises(sl.LeaseError) as err:
        sl.acquire(lease_dir, owner, subnet=first['subnet'])
    assert 'route %s dev %s' % (first['subnet'], dummy_interface) in str(err.value)
    assert sl.list_leases(lease_dir)[0]['octet'] == lease['octet'] and len(sl.list_leases(lease_dir)) == 1
    subprocess.check_call(['ip', 'link', 'del', dummy_interface])
    assert sl.acquire(lease_dir, owner, dry_run=True)['subnet'] == first['subnet']


def test_lease_skips_the_subnet_of_a_defined_libvirt_network(tmp_path, libvirt_uri, unique_name):
    from ansible_collections.lago.lago.plugins.module_utils import libvirt_conn
    conn = libvirt_conn.connect(libvirt_uri)
    lease_dir = str(tmp_path / 'subnets')
    owner = lease_owner.ensure_owner(str(tmp_path / 'p' / 'uuid'))[0]
    first = sl.acquire(lease_dir, owner, conn=conn, dry_run=True)
    net = conn.networkDefineXML("<network><name>%s</name><bridge name='%s'/><ip address='%s' prefix='24'/></network>"
                                % (unique_name, unique_name, first['gateway']))
    try:
        lease = sl.acquire(lease_dir, owner, conn=conn)
        assert lease['octet'] > first['octet']
        with pytest.raises(sl.LeaseError, match='libvirt network %s \\(bridge %s\\)' % (unique_name, unique_name)):
            sl.acquire(lease_dir, owner, subnet=first['subnet'], conn=conn)
    finally:
        net.undefine()
