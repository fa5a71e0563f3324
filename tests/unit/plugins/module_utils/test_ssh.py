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
    real_connect = paramiko.SSHClient.connect
    monkeypatch.setattr(paramiko.SSHClient, 'connect',
                        lambda self, hostname, **kw: real_connect(self, hostname, port=port, **kw))
    monkeypatch.setattr(ssh, 'port_open', lambda address, port_=22, timeout=0.5: True)
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
