# -*- coding: utf-8 -*-
"""Subnet leases: naming, staleness, who holds what, the lease directory, locking (one process)."""

from __future__ import absolute_import, division, print_function

import errno
import json
import multiprocessing
import os
import shutil
import tempfile

import pytest

from ansible_collections.lago.lago.plugins.module_utils import lease_owner
from ansible_collections.lago.lago.plugins.module_utils import subnet_lease as sl
from ansible_collections.lago.lago.plugins.module_utils.errors import LeaseError, LockTimeout
from ansible_collections.lago.lago.plugins.module_utils.files import file_lock


@pytest.fixture
def lease_dir(tmp_path):
    return str(tmp_path / 'subnets')


@pytest.fixture
def make_owner(tmp_path):
    def make(name):
        return lease_owner.ensure_owner(str(tmp_path / name / 'uuid'))[0]
    return make


def test_lease_file_is_named_by_third_octet_and_holds_owner(lease_dir, make_owner):
    owner = make_owner('p1')
    lease = sl.acquire(lease_dir, owner)
    assert lease['subnet'] == '192.168.200.0/24'
    assert lease['gateway'] == '192.168.200.1'
    assert lease['path'] == os.path.join(lease_dir, '200.lease')
    with open(lease['path']) as handle:
        assert json.load(handle) == [owner.path, owner.uuid]


def test_leases_are_distinct_and_first_free_is_taken(lease_dir, make_owner):
    owner = make_owner('p1')
    subnets = [sl.acquire(lease_dir, owner)['subnet'] for _lease in range(3)]
    assert subnets == ['192.168.200.0/24', '192.168.201.0/24', '192.168.202.0/24']
    assert sl.release(lease_dir, owner, '192.168.201.0/24')
    assert sl.acquire(lease_dir, owner)['subnet'] == '192.168.201.0/24'


def test_requested_subnet_held_by_same_owner_is_returned(lease_dir, make_owner):
    owner = make_owner('p1')
    first = sl.acquire(lease_dir, owner, subnet='192.168.230.1')
    again = sl.acquire(lease_dir, owner, subnet=230)
    assert first['new'] and not again['new']
    assert again['subnet'] == '192.168.230.0/24'
    assert [lease['octet'] for lease in sl.list_leases(lease_dir)] == [230]


def test_requested_subnet_held_by_live_owner_is_an_error(lease_dir, make_owner):
    holder, other = make_owner('p1'), make_owner('p2')
    sl.acquire(lease_dir, holder, subnet=210)
    with pytest.raises(LeaseError, match=r'subnet 192\.168\.210\.0/24 is leased to %s' % holder.path):
        sl.acquire(lease_dir, other, subnet=210)
    assert sl.list_leases(lease_dir)[0]['owner'] == holder.path


def test_requested_subnet_outside_pool_writes_nothing(lease_dir, make_owner):
    with pytest.raises(LeaseError, match='outside the pool 10.0.1.0/24-10.0.3.0/24'):
        sl.acquire(lease_dir, make_owner('p1'), subnet='10.0.7.0/24', pool='10.0.1.0/24-10.0.3.0/24')
    assert sl.list_leases(lease_dir) == []


def test_stale_when_uuid_file_gone(lease_dir, make_owner):
    gone, other = make_owner('p1'), make_owner('p2')
    sl.acquire(lease_dir, gone)
    os.unlink(gone.path)
    assert sl.list_leases(lease_dir)[0]['alive'] is False
    lease = sl.acquire(lease_dir, other)
    assert lease['subnet'] == '192.168.200.0/24' and lease['new']
    assert sl.list_leases(lease_dir)[0]['owner'] == other.path


def test_stale_when_uuid_file_holds_another_uuid(lease_dir, make_owner):
    old, other = make_owner('p1'), make_owner('p2')
    sl.acquire(lease_dir, old, subnet=220)
    with open(old.path, 'w') as handle:
        handle.write('f' * 32)
    assert sl.acquire(lease_dir, other, subnet=220)['new']


@pytest.mark.parametrize('content, problem', [
    (b'{half', 'is not JSON (truncated or garbage content)'),
    (b'', 'is not JSON (truncated or garbage content)'),
    (b'\xff\xfe\x00garbage', 'is not JSON (truncated or garbage content)'),
    (b'{"owner": "x"}', 'does not hold [owner uuid file, uuid]'),
])
def test_unreadable_lease_file_counts_as_taken_and_is_never_overwritten(lease_dir, make_owner, content, problem):
    os.makedirs(lease_dir)
    path = sl.lease_path(lease_dir, 200)
    with open(path, 'wb') as handle:
        handle.write(content)
    owner = make_owner('p1')
    assert sl.acquire(lease_dir, owner)['octet'] == 201
    with open(path, 'rb') as handle:
        assert handle.read() == content
    listed = sl.list_leases(lease_dir)[0]
    assert (listed['octet'], listed['owner'], listed['taken'], listed['problem']) == (200, None, True, problem)
    with pytest.raises(LeaseError) as err:
        sl.acquire(lease_dir, owner, subnet=200)
    assert str(err.value) == ('subnet 192.168.200.0/24 counts as taken: its lease file %s %s; '
                              'fix or remove that file' % (path, problem))
    with open(path, 'rb') as handle:
        assert handle.read() == content


def _deny_reading(monkeypatch, module, denied):
    """open() of ``denied`` fails with EACCES (the tests run as root, which chmod cannot stop)."""
    real_open = open

    def guarded(path, *args, **kwargs):
        if os.path.abspath(str(path)) == denied:
            raise PermissionError(errno.EACCES, 'Permission denied', path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(module, 'open', guarded, raising=False)


def test_lease_file_without_read_permission_counts_as_taken(lease_dir, make_owner, monkeypatch):
    from ansible_collections.lago.lago.plugins.module_utils import files
    holder, other = make_owner('p1'), make_owner('p2')
    sl.acquire(lease_dir, holder)
    _deny_reading(monkeypatch, files, sl.lease_path(lease_dir, 200))
    assert sl.acquire(lease_dir, other)['octet'] == 201
    assert sl.list_leases(lease_dir)[0]['problem'] == 'cannot be read (Permission denied)'
    monkeypatch.undo()
    assert sl.list_leases(lease_dir)[0]['owner'] == holder.path


def test_lease_whose_owner_file_cannot_be_read_counts_as_taken(lease_dir, make_owner, monkeypatch):
    holder, other = make_owner('p1'), make_owner('p2')
    sl.acquire(lease_dir, holder, subnet=210)
    _deny_reading(monkeypatch, lease_owner, holder.path)
    with pytest.raises(LeaseError) as err:
        sl.acquire(lease_dir, other, subnet=210)
    assert str(err.value) == ('subnet 192.168.210.0/24 is leased to %s (uuid %s) in %s: its owner file %s '
                              'cannot be read (Permission denied)' % (holder.path, holder.uuid, lease_dir, holder.path))
    lease = sl.acquire(lease_dir, other, pool='192.168.210.0/24-192.168.211.0/24')
    assert lease['octet'] == 211
    assert sl.list_leases(lease_dir)[0]['owner'] == holder.path


def test_exhausted_pool_names_unreadable_lease_files(lease_dir, make_owner):
    pool = '10.9.1.0/24-10.9.2.0/24'
    first = make_owner('p1')
    os.makedirs(lease_dir)
    with open(sl.lease_path(lease_dir, 1), 'w') as handle:
        handle.write('[')
    sl.acquire(lease_dir, first, pool=pool)
    with pytest.raises(LeaseError) as err:
        sl.acquire(lease_dir, make_owner('p2'), pool=pool)
    message = str(err.value)
    assert 'all 2 subnets are leased (2 lease files in %s)' % lease_dir in message
    assert '%s: 2' % first.path in message
    assert ('unreadable lease files, counted as taken (fix or remove them): %s is not JSON'
            % sl.lease_path(lease_dir, 1)) in message


def test_release_only_removes_own_lease(lease_dir, make_owner):
    holder, other = make_owner('p1'), make_owner('p2')
    sl.acquire(lease_dir, holder)
    assert sl.release(lease_dir, other, 200) is False
    assert os.path.exists(sl.lease_path(lease_dir, 200))
    assert sl.release(lease_dir, holder, '192.168.200.0/24') is True
    assert sl.release(lease_dir, holder, 200) is False
    assert sl.list_leases(lease_dir) == []


def test_exhausted_pool_says_how_many_and_who(lease_dir, make_owner):
    pool = '10.9.1.0/24-10.9.3.0/24'
    first, second = make_owner('p1'), make_owner('p2')
    sl.acquire(lease_dir, first, pool=pool)
    sl.acquire(lease_dir, first, pool=pool)
    sl.acquire(lease_dir, second, pool=pool)
    with pytest.raises(LeaseError) as err:
        sl.acquire(lease_dir, make_owner('p3'), pool=pool)
    message = str(err.value)
    assert 'no free subnet in pool 10.9.1.0/24-10.9.3.0/24' in message
    assert 'all 3 subnets are leased (3 lease files in %s)' % lease_dir in message
    assert '%s: 1, 2' % first.path in message and '%s: 3' % second.path in message


def test_lock_timeout_is_a_clear_error_and_writes_nothing(lease_dir, make_owner):
    owner = make_owner('p1')
    with file_lock(os.path.join(lease_dir, sl.LOCK_NAME)):
        with pytest.raises(LockTimeout, match='waiting for the lock on .*leases.lock .subnet leases in'):
            sl.acquire(lease_dir, owner, timeout=0.2)
    assert sl.list_leases(lease_dir) == []


def test_dry_run_touches_nothing(lease_dir, make_owner):
    lease = sl.acquire(lease_dir, make_owner('p1'), dry_run=True)
    assert lease['subnet'] == '192.168.200.0/24' and lease['new']
    assert not os.path.exists(lease_dir)


def test_temp_files_of_dead_writers_are_swept(lease_dir, make_owner):
    os.makedirs(lease_dir)
    leftover = os.path.join(lease_dir, '.200.lease.abcd.tmp')
    open(leftover, 'w').close()
    sl.acquire(lease_dir, make_owner('p1'))
    assert not os.path.exists(leftover)


def test_list_and_leases_of(lease_dir, make_owner):
    mine, theirs = make_owner('p1'), make_owner('p2')
    sl.acquire(lease_dir, mine)
    sl.acquire(lease_dir, theirs)
    assert [lease['subnet'] for lease in sl.leases_of(lease_dir, mine)] == ['192.168.200.0/24']
    listed = sl.list_leases(lease_dir)
    assert [(lease['octet'], lease['owner'], lease['alive']) for lease in listed] == [
        (200, mine.path, True), (201, theirs.path, True)]


# --- a lease directory that is not one, or not ours to write -------------------


def _as_unprivileged(func):
    """(kind, value) of ``func()`` run as a user file modes stop: nobody when the tests run as root.

    kind is 'ok' (value: the result) or the exception's class name (value: its message).
    """
    def call():
        try:
            return 'ok', func()
        except Exception as err:  # the test asserts which kind and message
            return type(err).__name__, str(err)
    if os.geteuid() != 0:
        return call()
    ctx = multiprocessing.get_context('fork')
    results = ctx.Queue()

    def child():
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        results.put(call())

    proc = ctx.Process(target=child)
    proc.start()
    got = results.get(timeout=30)
    proc.join(10)
    return got


NOBODY = 65534


@pytest.fixture
def shared_dir():
    """A directory any user may enter (tmp_path's parents are private to root)."""
    path = tempfile.mkdtemp(prefix='lago-lease-unit-', dir='/tmp')
    os.chmod(path, 0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _shared_owner(shared_dir):
    owner = lease_owner.ensure_owner(os.path.join(shared_dir, 'owner', 'uuid'))[0]
    os.chmod(os.path.dirname(owner.path), 0o755)
    return owner


@pytest.mark.parametrize('dry_run', [False, True])
def test_lease_dir_that_is_a_regular_file(tmp_path, make_owner, dry_run):
    lease_dir = tmp_path / 'subnets'
    lease_dir.write_text('not a directory\n')
    owner = make_owner('p1')
    with pytest.raises(LeaseError) as err:
        sl.acquire(str(lease_dir), owner, dry_run=dry_run)
    assert str(err.value) == ('lease directory %s is not a directory but a regular file: '
                              'remove it or use another lease_dir' % lease_dir)
    for call in (lambda: sl.list_leases(str(lease_dir)), lambda: sl.leases_of(str(lease_dir), owner)):
        with pytest.raises(LeaseError, match='lease directory %s is not a directory but a regular file' % lease_dir):
            call()
    assert lease_dir.read_text() == 'not a directory\n'
    assert sorted(os.listdir(str(tmp_path))) == ['p1', 'subnets']


def test_lease_dir_under_a_regular_file(tmp_path, make_owner):
    (tmp_path / 'file').write_text('')
    lease_dir = str(tmp_path / 'file' / 'subnets')
    with pytest.raises(LeaseError) as err:
        sl.acquire(lease_dir, make_owner('p1'))
    assert str(err.value) == ('lease directory %s cannot be created: %s is not a directory but a regular file'
                              % (lease_dir, tmp_path / 'file'))


def test_lease_dir_not_writable(shared_dir):
    owner = _shared_owner(shared_dir)
    lease_dir = os.path.join(shared_dir, 'subnets')
    os.makedirs(lease_dir)
    os.chmod(lease_dir, 0o555)
    kind, message = _as_unprivileged(lambda: sl.acquire(lease_dir, owner))
    assert kind == 'LeaseError', message
    assert message == ('lease directory %s is not writable by uid %d: fix its permissions or use another lease_dir'
                       % (lease_dir, NOBODY if os.geteuid() == 0 else os.geteuid()))
    assert os.listdir(lease_dir) == []


def test_missing_lease_dir_whose_parent_is_not_writable(shared_dir):
    owner = _shared_owner(shared_dir)
    parent = os.path.join(shared_dir, 'locked')
    os.makedirs(parent)
    os.chmod(parent, 0o555)
    lease_dir = os.path.join(parent, 'a', 'subnets')
    kind, message = _as_unprivileged(lambda: sl.acquire(lease_dir, owner))
    assert kind == 'LeaseError', message
    assert message == ('lease directory %s does not exist and cannot be created: %s is not writable by uid %d'
                       % (lease_dir, parent, NOBODY if os.geteuid() == 0 else os.geteuid()))
    assert os.listdir(parent) == []


def test_lock_file_of_another_user_is_a_lease_error(shared_dir):
    owner = _shared_owner(shared_dir)
    lease_dir = os.path.join(shared_dir, 'subnets')
    os.makedirs(lease_dir)
    os.chmod(lease_dir, 0o777)
    lock = os.path.join(lease_dir, sl.LOCK_NAME)
    open(lock, 'w').close()
    os.chmod(lock, 0o444)
    kind, message = _as_unprivileged(lambda: sl.acquire(lease_dir, owner))
    assert kind == 'LeaseError', message
    assert message == 'cannot lease a subnet in lease directory %s: Permission denied (%s)' % (lease_dir, lock)
    assert os.listdir(lease_dir) == [sl.LOCK_NAME]


# --- every lease of one owner --------------------------------------------------


def test_release_all_removes_every_lease_of_the_owner_and_nothing_else(lease_dir, make_owner):
    mine, theirs = make_owner('p1'), make_owner('p2')
    for octet in (203, 200, 240):
        sl.acquire(lease_dir, mine, subnet=octet)
    sl.acquire(lease_dir, theirs)  # 201
    with open(sl.lease_path(lease_dir, 250), 'w') as handle:
        handle.write('garbage')
    # The same uuid under another path (a copied prefix) is another owner.
    copy = lease_owner.Owner(mine.path.replace('p1', 'p1-copy'), mine.uuid)
    sl.acquire(lease_dir, copy, subnet=230)
    assert [lease['octet'] for lease in sl.leases_of(lease_dir, mine)] == [200, 203, 240]
    assert sl.release_all(lease_dir, mine) == ['192.168.200.0/24', '192.168.203.0/24', '192.168.240.0/24']
    assert [lease['octet'] for lease in sl.list_leases(lease_dir)] == [201, 230, 250]
    assert sl.leases_of(lease_dir, mine) == []
    assert sl.release_all(lease_dir, mine) == []
    assert sl.release_all(lease_dir, tuple(theirs), pool='192.168.0.0/16') == ['192.168.201.0/24']


def test_release_all_finds_leases_outside_the_pool_and_spells_them_with_its_base(lease_dir, make_owner):
    owner = make_owner('p1')
    sl.acquire(lease_dir, owner, pool='10.1.5.0/24-10.1.9.0/24')
    sl.acquire(lease_dir, owner)
    assert [lease['octet'] for lease in sl.leases_of(lease_dir, owner)] == [5, 200]
    assert sl.release_all(lease_dir, owner, pool='10.1.0.0/16') == ['10.1.5.0/24', '10.1.200.0/24']


def test_release_all_without_a_lease_dir_makes_none(lease_dir, make_owner):
    assert sl.release_all(lease_dir, make_owner('p1')) == []
    assert sl.leases_of(lease_dir, make_owner('p1')) == []
    assert not os.path.exists(lease_dir)
