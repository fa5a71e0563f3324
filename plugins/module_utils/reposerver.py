# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Serve ``<prefix>/internal_repo`` over HTTP to the prefix's VMs.

The server (repo_http.py: Python's ``http.server`` limited to the regular
files under its root, no listings, nothing outside the root even through a
symlink) runs as a detached process: ``<python> -c <repo_http's source>
<prefix>/internal_repo <address> <port>``. Its pid, address, port and exact command line are recorded in
``<prefix>/reposerver.json`` (atomically); a pid counts as our server only
while ``/proc/<pid>/cmdline`` is that command line, so a recycled pid is
never killed. Its log goes to ``<prefix>/logs/reposerver.log``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import inspect
import os
import signal
import socket
import subprocess
import sys
import time

from ansible_collections.lago.lago.plugins.module_utils.errors import RepoError
from ansible_collections.lago.lago.plugins.module_utils.files import read_json, remove_path, write_json
from ansible_collections.lago.lago.plugins.module_utils.repos import DEFAULT_PORT, REPO_DIR, check_port

RECORD = 'reposerver.json'
LOG = os.path.join('logs', 'reposerver.log')


def record_path(prefix):
    return os.path.join(os.path.abspath(prefix), RECORD)


def server_argv(root, bind, port, python=None):
    """The server's command line (an argv list); it carries repo_http's code, since it
    outlives the module whose files it came in."""
    from ansible_collections.lago.lago.plugins.module_utils import repo_http  # http.server: only to serve
    return [python or sys.executable, '-c', inspect.getsource(repo_http), root, bind, str(port)]


def url_of(bind, port):
    host = '[%s]' % bind if ':' in bind else bind
    return 'http://%s:%d/' % (host, port)


def _cmdline(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as handle:
            data = handle.read()
    except (IOError, OSError):
        return None
    return [part.decode('utf-8', 'surrogateescape') for part in data.split(b'\0')[:-1]]


def _alive(pid):
    """True while any thread of ``pid`` runs (a zombie child of ours is reaped).

    A dead thread-group leader shows as a zombie while the server's other
    threads are still exiting and holding its socket: that is not gone yet.
    """
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        with open('/proc/%d/stat' % pid) as handle:
            state = handle.read().rsplit(')', 1)[1].split()[0]
        if state == 'Z':
            return len(os.listdir('/proc/%d/task' % pid)) > 1
    except (IOError, OSError, IndexError):
        return False
    return state != 'X'


def _is_ours(record):
    pid = record.get('pid')
    return isinstance(pid, int) and _alive(pid) and _cmdline(pid) == record.get('argv')


def status(prefix):
    """``{'running': bool, 'record': dict or None, 'stale': bool}`` of the prefix's server."""
    record = read_json(record_path(prefix), default={}) or None
    if record is None:
        return {'running': False, 'record': None, 'stale': False}
    running = _is_ours(record)
    return {'running': running, 'record': record, 'stale': not running}


def _check_bind(bind, port):
    """Fail clearly, before starting anything, if ``bind:port`` cannot be served."""
    try:
        infos = socket.getaddrinfo(bind, port, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
    except socket.gaierror:
        raise RepoError('cannot serve on %s port %d: %r is not an IP address' % (bind, port, bind))
    family, _type, _proto, _canon, sockaddr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # As http.server does, so a port in TIME_WAIT is not mistaken for a taken one.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        sock.listen(1)
    except OSError as err:
        if err.errno == errno.EADDRNOTAVAIL:
            why = 'address %s is not on this host' % bind
        elif err.errno == errno.EADDRINUSE:
            why = 'port %d on %s is already in use' % (port, bind)
        else:
            why = err.strerror
        raise RepoError('cannot serve on %s port %d: %s' % (bind, port, why))
    finally:
        sock.close()


def _wait_listening(proc, bind, port, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection((bind, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def _log_tail(path, lines=5):
    try:
        with open(path, errors='replace') as handle:
            return ''.join(handle.readlines()[-lines:]).strip()
    except (IOError, OSError):
        return ''


def _terminate(pid, timeout=5.0):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    while _alive(pid):
        time.sleep(0.05)


def start(prefix, bind, port=DEFAULT_PORT, check_mode=False, timeout=10.0, python=None):
    """Serve ``<prefix>/internal_repo`` on ``bind:port``; idempotent.

    Returns ``{'changed', 'record', 'before', 'after'}``. A server of this
    prefix already running on the same address and port is left alone; one
    on another address or port is replaced (it keeps running if the new
    address or port cannot be served); a stale record is dropped.
    """
    check_port(port)
    prefix = os.path.abspath(prefix)
    root = os.path.join(prefix, REPO_DIR)
    current = status(prefix)
    before = _state_of(current)
    record = current['record']
    if current['running'] and record.get('bind') == bind and record.get('port') == port \
            and record.get('root') == root:
        return {'changed': False, 'record': record, 'before': before, 'after': before}
    # Checked first (in check mode too): a server on another address or port
    # keeps running when the new one cannot be started.
    _check_bind(bind, port)
    after = {'state': 'started', 'bind': bind, 'port': port, 'url': url_of(bind, port)}
    if check_mode:
        # In a checked play, the repository the server would serve is not built either.
        return {'changed': True, 'record': record, 'before': before, 'after': after}
    if not os.path.isdir(root):
        raise RepoError('nothing to serve: %s does not exist (run lago_reposetup first)' % root)
    if current['running']:
        _terminate(record['pid'])
    if record is not None:
        remove_path(record_path(prefix))
    argv = server_argv(root, bind, port, python)
    log = os.path.join(prefix, LOG)
    os.makedirs(os.path.dirname(log), exist_ok=True)
    with open(log, 'ab') as out:
        proc = subprocess.Popen(argv, cwd=root, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, close_fds=True, start_new_session=True)
    if not _wait_listening(proc, bind, port, timeout):
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        raise RepoError('cannot serve on %s port %d: the server did not start: %s'
                        % (bind, port, _log_tail(log) or 'exit %s' % proc.returncode))
    record = {'pid': proc.pid, 'bind': bind, 'port': port, 'root': root, 'argv': argv,
              'url': url_of(bind, port), 'log': log, 'started': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}
    try:
        write_json(record_path(prefix), record)
    except BaseException:
        _terminate(proc.pid)
        raise
    return {'changed': True, 'record': record, 'before': before, 'after': after}


def stop(prefix, check_mode=False):
    """Stop the prefix's server (only the recorded pid, if it is ours) and drop the record."""
    current = status(prefix)
    before = _state_of(current)
    after = {'state': 'stopped'}
    if current['record'] is None:
        return {'changed': False, 'record': None, 'before': before, 'after': after}
    if not check_mode:
        if current['running']:
            _terminate(current['record']['pid'])
        remove_path(record_path(prefix))
    return {'changed': True, 'record': current['record'], 'before': before, 'after': after}


def _state_of(current):
    record = current['record']
    if not current['running']:
        return {'state': 'stopped'}
    return {'state': 'started', 'bind': record['bind'], 'port': record['port'], 'url': record['url']}
