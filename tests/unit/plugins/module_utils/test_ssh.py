# -*- coding: utf-8 -*-
"""ssh.wait_for_logins: one process (threads), paramiko logins, strict host keys.

A real sshd is not available to unit tests; paramiko's own server class plays
the VM on 127.0.0.1, so the wait, the key and the host-key check are real.
"""

from __future__ import absolute_import, division, print_function

import socket
import threading

import pytest

paramiko = pytest.importorskip('paramiko')

from ansible_collections.lago.lago.plugins.module_utils import ssh  # noqa: E402
from ansible_collections.lago.lago.plugins.module_utils.errors import JumpError, JumpRefused  # noqa: E402


class _Server(paramiko.ServerInterface):
    def __init__(self, allowed):
        self.allowed = allowed

    def check_auth_publickey(self, username, key):
        return paramiko.AUTH_SUCCESSFUL if key.get_base64() == self.allowed.get_base64() else paramiko.AUTH_FAILED

    def get_allowed_auths(self, username):
        return 'publickey'

    def check_channel_request(self, kind, chanid):
        return paramiko.OPEN_SUCCEEDED

    def check_channel_exec_request(self, channel, command):
        channel.send_exit_status(0 if command == b'true' else 1)
        return True


def _session(conn, host_key, client_key, stop):
    transport = paramiko.Transport(conn)
    transport.add_server_key(host_key)
    try:
        transport.start_server(server=_Server(client_key))
        if transport.accept(5) is not None:
            stop.wait(0.5)
    except (paramiko.SSHException, EOFError, OSError):
        pass  # the client gave up (e.g. it refused our host key)
    finally:
        transport.close()


def _serve(sock, host_key, client_key, stop):
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            conn, _addr = sock.accept()
        except socket.timeout:
            continue
        threading.Thread(target=_session, args=(conn, host_key, client_key, stop), daemon=True).start()


@pytest.fixture
def vm(tmp_path, monkeypatch):
    host_key = paramiko.RSAKey.generate(2048)
    client_key = paramiko.RSAKey.generate(2048)
    key_file = str(tmp_path / 'id_rsa')
    client_key.write_private_key_file(key_file)
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    sock.listen(5)
    port = sock.getsockname()[1]
    stop = threading.Event()
    server = threading.Thread(target=_serve, args=(sock, host_key, client_key, stop), daemon=True)
    server.start()
    # The VM's port 22 is this test server's port.
    monkeypatch.setattr(ssh, 'SSH_PORT', port)
    known_hosts = str(tmp_path / 'known_hosts')
    with open(known_hosts, 'w') as handle:
        handle.write('[127.0.0.1]:%d %s %s\n' % (port, host_key.get_name(), host_key.get_base64()))
    yield dict(key=key_file, known_hosts=known_hosts, port=port, tmp=tmp_path)
    stop.set()
    server.join(5)
    sock.close()


def test_logs_in_with_the_prefix_key_and_known_host(vm):
    ready, pending = ssh.wait_for_logins({'vm01': ('root', '127.0.0.1', vm['key'], vm['known_hosts'])}, timeout=30)
    assert pending == [] and 'vm01' in ready


def test_unknown_host_key_is_refused_and_said(vm):
    other = str(vm['tmp'] / 'other_known_hosts')
    with open(other, 'w') as handle:
        handle.write('[127.0.0.1]:%d %s %s\n' % (vm['port'], 'ssh-rsa', paramiko.RSAKey.generate(2048).get_base64()))
    why = {}
    ready, pending = ssh.wait_for_logins({'vm01': ('root', '127.0.0.1', vm['key'], other)}, timeout=3, why=why)
    assert ready == {} and pending == ['vm01']
    assert 'BadHostKeyException' in why['vm01'] or 'not found in known_hosts' in why['vm01'], why


def test_ssh_argv_ends_the_options_before_the_destination():
    argv = ssh.ssh_argv('root', '-oProxyCommand=x', '/p/id_rsa', '/p/known_hosts', ['true'])
    assert argv[-3:] == ['--', 'root@-oProxyCommand=x', 'true']
    assert argv.index('--') == len(argv) - 3


def test_ssh_argv_through_a_jump_host_has_its_proxy_command_before_the_destination():
    jump = ssh.Jump('hv1', '192.168.250.11', 2222, 'root', '/hv/id', '/hv/known hosts')
    argv = ssh.ssh_argv('root', '10.0.0.5', '/p/id_rsa', '/p/known_hosts', ['sync'], jump=jump)
    assert argv[-3:] == ['--', 'root@10.0.0.5', 'sync']
    proxy = argv[argv.index('-o', argv.index('LogLevel=ERROR')) + 1]
    assert proxy == ssh.proxy_option(jump) and proxy.startswith('ProxyCommand=ssh ')
    assert proxy.endswith(' -p 2222 -W %h:%p -- root@192.168.250.11')
    assert "'UserKnownHostsFile=\"/hv/known hosts\"'" in proxy and 'StrictHostKeyChecking=yes' in proxy
    assert 'ProxyCommand' not in ' '.join(ssh.ssh_argv('root', '10.0.0.5', '/p/id_rsa', '/p/known_hosts'))


class _FakeTime(object):
    """A clock per thread (one VM each) that moves only when that thread sleeps; every sleep is recorded."""

    def __init__(self):
        self.local = threading.local()
        self.sleeps = {}
        self.lock = threading.Lock()

    def clock(self):
        return getattr(self.local, 'now', 1000.0)

    def sleep(self, seconds):
        with self.lock:
            self.sleeps.setdefault(threading.current_thread().name, []).append(seconds)
        self.local.now = self.clock() + seconds


def _fake_vms(monkeypatch, accepts_at_try):
    """VMs whose n-th login attempt is the first to work ({address: n}); returns the tries made."""
    tries = {}
    lock = threading.Lock()

    def try_login(user, address, key, known_hosts, timeout=5.0, sock=None):
        assert sock == ('connection to', address)  # the login runs on the connection just opened
        with lock:
            tries[address] = tries.get(address, 0) + 1
            return None if tries[address] >= accepts_at_try[address] else 'AuthenticationException: not yet'
    monkeypatch.setattr(ssh, 'open_ssh', lambda address, timeout=1.0: ('connection to', address))
    monkeypatch.setattr(ssh, 'try_login', try_login)
    return tries


def test_three_vms_are_tried_at_once_and_only_failed_tries_wait(monkeypatch):
    """Start of 3 VMs: no fixed sleep. A VM that answers at once is never slept for; one that
    answers at its n-th try was slept for exactly n-1 times, ``poll`` each, all in this process."""
    fake = _FakeTime()
    accepts = {'10.0.0.1': 1, '10.0.0.2': 3, '10.0.0.3': 5}
    tries = _fake_vms(monkeypatch, accepts)
    targets = dict(('vm%d' % n, ('root', '10.0.0.%d' % n, 'k', 'kh')) for n in (1, 2, 3))
    names = {}
    real_thread = threading.Thread

    def named_thread(target=None, args=(), daemon=None):
        thread = real_thread(target=target, args=args, daemon=daemon)
        names[args[0]] = thread.name
        return thread
    monkeypatch.setattr(ssh.threading, 'Thread', named_thread)

    def no_real_sleep(seconds):
        raise AssertionError('a real sleep of %ss in the wait' % seconds)
    monkeypatch.setattr(ssh.time, 'sleep', no_real_sleep)
    ready, pending = ssh.wait_for_logins(targets, timeout=300, poll=0.25, clock=fake.clock, sleep=fake.sleep)
    assert pending == [] and sorted(ready) == ['vm1', 'vm2', 'vm3']
    assert tries == accepts                              # not one try more than needed
    assert names['vm1'] not in fake.sleeps                # answered at once: never slept
    assert fake.sleeps[names['vm2']] == [0.25, 0.25]      # only between failed tries
    assert fake.sleeps[names['vm3']] == [0.25] * 4
    assert ready['vm1'] == 0.0                            # seen the moment it answered (fake clock)


def test_a_vm_that_never_answers_ends_at_its_budget_on_the_clock(monkeypatch):
    fake = _FakeTime()
    _fake_vms(monkeypatch, {'10.0.0.1': 1, '10.0.0.9': 10 ** 9})
    why = {}
    ready, pending = ssh.wait_for_logins({'ok': ('root', '10.0.0.1', 'k', 'kh'), 'mute': ('root', '10.0.0.9', 'k', 'kh')},
                                         timeout=5, poll=0.25, why=why, clock=fake.clock, sleep=fake.sleep)
    assert list(ready) == ['ok'] and pending == ['mute']
    assert 'AuthenticationException: not yet' in why['mute'] and 'budget of 5s ran out' in why['mute'], why


def test_one_connection_at_a_time_and_the_login_runs_on_it(vm, monkeypatch):
    """No probe beside the login: every connection a VM's sshd sees is a login, and the next one is
    opened only after the last one is closed (a flooded sshd refuses all: MaxStartups)."""
    opened, logins, open_now, most = [], [], [0], [0]
    real_open, real_login = ssh.open_ssh, ssh.try_login

    class Counted(object):
        def __init__(self, sock):
            self.sock, self.closed = sock, False
            open_now[0] += 1
            most[0] = max(most[0], open_now[0])

        def close(self):
            if not self.closed:
                self.closed = True
                open_now[0] -= 1
            self.sock.close()

        def __getattr__(self, name):
            return getattr(self.sock, name)

    def counted_open(address, timeout=1.0):
        sock = real_open(address, timeout)
        opened.append(sock)
        return None if sock is None else Counted(sock)

    def counted_login(*args, **kwargs):
        logins.append(kwargs['sock'])
        return real_login(*args, **kwargs)
    monkeypatch.setattr(ssh, 'open_ssh', counted_open)
    monkeypatch.setattr(ssh, 'try_login', counted_login)
    ready, pending = ssh.wait_for_logins({'vm01': ('root', '127.0.0.1', vm['key'], vm['known_hosts'])}, timeout=30)
    assert pending == [] and 'vm01' in ready
    assert len(logins) == len(opened) and all(isinstance(sock, Counted) for sock in logins)
    assert most[0] == 1 and open_now[0] == 0


# --- through a jump host (a hypervisor of a multi-host prefix) ---------------------------------

HV1 = ssh.Jump('hv1', '192.168.250.11', 22, 'root', '/hv/id', '/hv/known_hosts')
HV2 = ssh.Jump('hv2', '192.168.250.12', 22, 'root', '/hv/id', '/hv/known_hosts')


class _FakeJumps(object):
    """A Jumps whose channels are tuples; ``fails`` {hypervisor: JumpError} makes a hypervisor fail."""

    def __init__(self, fails=None):
        self.fails = fails or {}
        self.asked = []
        self.lock = threading.Lock()

    def channel(self, jump, address):
        with self.lock:
            self.asked.append((jump.name, address))
        if jump.name in self.fails:
            raise self.fails[jump.name]
        return ('channel through', jump.name, address)


def _fake_logins(monkeypatch, accepts_at_try):
    tries = {}
    lock = threading.Lock()

    def try_login(user, address, key, known_hosts, timeout=5.0, sock=None):
        assert sock[0] == 'channel through' and sock[2] == address  # the login runs on the channel just opened
        with lock:
            tries[address] = tries.get(address, 0) + 1
            return None if tries[address] >= accepts_at_try[address] else 'AuthenticationException: not yet'

    def no_direct(address, timeout=1.0):
        raise AssertionError('a direct connection to %s' % address)
    monkeypatch.setattr(ssh, 'open_ssh', no_direct)
    monkeypatch.setattr(ssh, 'try_login', try_login)
    return tries


def test_vms_behind_hypervisors_log_in_over_channels_with_the_same_slices(monkeypatch):
    fake = _FakeTime()
    tries = _fake_logins(monkeypatch, {'10.0.0.1': 1, '10.0.0.2': 3, '10.0.0.3': 2})
    jumps = _FakeJumps()
    targets = {'vm1': ('root', '10.0.0.1', 'k', 'kh', HV1), 'vm2': ('root', '10.0.0.2', 'k', 'kh', HV1),
               'vm3': ('root', '10.0.0.3', 'k', 'kh', HV2)}
    ready, pending = ssh.wait_for_logins(targets, timeout=300, poll=0.25, clock=fake.clock, sleep=fake.sleep,
                                         jumps=jumps)
    assert pending == [] and sorted(ready) == ['vm1', 'vm2', 'vm3']
    assert tries == {'10.0.0.1': 1, '10.0.0.2': 3, '10.0.0.3': 2}
    assert sorted(jumps.asked) == [('hv1', '10.0.0.1'), ('hv1', '10.0.0.2'), ('hv1', '10.0.0.2'), ('hv1', '10.0.0.2'),
                                   ('hv2', '10.0.0.3'), ('hv2', '10.0.0.3')]
    assert sorted(sum(fake.sleeps.values(), [])) == [0.25] * 3  # only after failed tries
    # a slice ends a VM still within its budget as pending, not given up
    tries.clear()
    given_up = set()
    _fake_logins(monkeypatch, {'10.0.0.1': 10 ** 9})
    fake = _FakeTime()
    ready, pending = ssh.wait_for_logins({'vm1': targets['vm1']}, timeout=300, poll=0.25, until=5, given_up=given_up,
                                         clock=fake.clock, sleep=fake.sleep, jumps=jumps)
    assert ready == {} and pending == ['vm1'] and given_up == set()


def test_an_unreachable_jump_host_is_retried_to_the_budget_and_named(monkeypatch):
    fake = _FakeTime()
    _fake_logins(monkeypatch, {'10.0.0.1': 1, '10.0.0.3': 1})
    down = JumpError('cannot reach hypervisor hv1 (root@192.168.250.11 port 22): ConnectionRefusedError')
    jumps = _FakeJumps({'hv1': down})
    why, given_up = {}, set()
    ready, pending = ssh.wait_for_logins({'vm1': ('root', '10.0.0.1', 'k', 'kh', HV1),
                                          'vm3': ('root', '10.0.0.3', 'k', 'kh', HV2)},
                                         timeout=5, poll=0.25, why=why, given_up=given_up, clock=fake.clock,
                                         sleep=fake.sleep, jumps=jumps)
    assert list(ready) == ['vm3'] and pending == ['vm1'] and given_up == {'vm1'}
    assert why['vm1'].startswith('cannot reach hypervisor hv1 (root@192.168.250.11 port 22)'), why
    assert 'its budget of 5s ran out' in why['vm1'], why
    assert jumps.asked.count(('hv1', '10.0.0.1')) == 20  # every poll of its budget, nothing more


def test_a_refused_jump_host_key_ends_the_wait_at_once(monkeypatch):
    fake = _FakeTime()
    _fake_logins(monkeypatch, {'10.0.0.1': 1})
    jumps = _FakeJumps({'hv1': JumpRefused('hypervisor hv1 (root@192.168.250.11 port 22) refused: ...')})
    why = {}
    ready, pending = ssh.wait_for_logins({'vm1': ('root', '10.0.0.1', 'k', 'kh', HV1)}, timeout=300, poll=0.25,
                                         why=why, clock=fake.clock, sleep=fake.sleep, jumps=jumps)
    assert ready == {} and pending == ['vm1'] and fake.sleeps == {} and len(jumps.asked) == 1
    assert 'hv1' in why['vm1'] and 'refused' in why['vm1'] and 'the host key of hypervisor hv1 was refused' in why['vm1']


class _Client(object):
    def __init__(self, jump):
        self.jump, self.active, self.closed = jump, True, False

    def get_transport(self):
        return self

    def is_active(self):
        return self.active and not self.closed

    def open_channel(self, kind, dest, src, timeout=None):
        assert kind == 'direct-tcpip'
        return (kind, self.jump.name, dest)

    def close(self):
        self.closed = True


def test_one_connection_per_jump_host_shared_and_reopened_when_it_drops():
    made = []
    lock = threading.Lock()

    def connect(jump):
        with lock:
            made.append(_Client(jump))
            return made[-1]
    jumps = ssh.Jumps(connect)
    threads = [threading.Thread(target=jumps.channel, args=(HV1, '10.0.0.%d' % n)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [client.jump.name for client in made] == ['hv1']  # 8 VMs, one connection
    assert jumps.channel(HV2, '10.0.0.9') == ('direct-tcpip', 'hv2', ('10.0.0.9', ssh.SSH_PORT))
    made[0].active = False  # hv1's connection dropped
    assert jumps.channel(HV1, '10.0.0.1') == ('direct-tcpip', 'hv1', ('10.0.0.1', ssh.SSH_PORT))
    assert [client.jump.name for client in made] == ['hv1', 'hv2', 'hv1'] and made[0].closed
    jumps.close()
    assert all(client.closed for client in made)


def test_open_jump_checks_the_host_key_strictly_and_learns_nothing(vm):
    jump = ssh.Jump('hv1', '127.0.0.1', vm['port'], 'root', vm['key'], vm['known_hosts'])
    ssh.open_jump(jump).close()  # the right key: logged in
    other = vm['tmp'] / 'other_known_hosts'
    wrong = u'[127.0.0.1]:%d ssh-rsa %s\n' % (vm['port'], paramiko.RSAKey.generate(2048).get_base64())
    other.write_text(wrong)
    empty = vm['tmp'] / 'empty_known_hosts'
    empty.write_text(u'')
    for known_hosts, why in ((other, 'is not the one in'), (empty, 'is not in')):
        with pytest.raises(JumpRefused, match=r'^hypervisor hv1 \(root@127.0.0.1 port %d\) refused: its host key '
                                              r'.*%s %s' % (vm['port'], why, known_hosts)):
            ssh.open_jump(jump._replace(known_hosts=str(known_hosts)))
    assert empty.read_text() == u'' and other.read_text() == wrong  # nothing learnt


def test_open_jump_names_an_unreachable_hypervisor_and_its_address(vm):
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    port = listener.getsockname()[1]
    listener.close()  # nobody listens there now
    jump = ssh.Jump('hv1', '127.0.0.1', port, 'root', vm['key'], vm['known_hosts'])
    with pytest.raises(JumpError, match=r'^cannot reach hypervisor hv1 \(root@127.0.0.1 port %d\): '
                                        r'(NoValidConnectionsError|ConnectionRefusedError)' % port):
        ssh.open_jump(jump)
