# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SSH to prefix VMs: strict host keys from the prefix's own known_hosts.

A VM of a multi-host prefix that the controller cannot route to is reached
through a hypervisor (a ``Jump``): the engine opens one paramiko connection to
it (its host key checked strictly against the Jump's known_hosts) and logs in
to the VM over a ``direct-tcpip`` channel of that connection; ``ssh`` itself
(ssh_argv, the inventory) gets a ProxyCommand that does the same.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import logging
import shlex
import socket
import threading
import time

from ansible_collections.lago.lago.plugins.module_utils.errors import JumpError, JumpRefused

Jump = collections.namedtuple('Jump', 'name host port user key known_hosts')
Jump.__doc__ = """A hypervisor the controller reaches VMs through: its inventory name, its SSH
address, port and user, the private key file and the known_hosts file holding its host key."""


def ssh_options(key, known_hosts, connect_timeout=5):
    """The ssh -o options every login to a prefix VM uses.

    Host keys are checked strictly against the prefix's known_hosts and the
    user's own known_hosts files are neither read nor written.
    """
    return ['-i', key, '-o', 'IdentitiesOnly=yes', '-o', 'UserKnownHostsFile=%s' % known_hosts,
            '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=yes',
            '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=%d' % connect_timeout, '-o', 'LogLevel=ERROR']


def ssh_argv(user, address, key, known_hosts, command=(), connect_timeout=5, jump=None):
    """``ssh`` to a VM; with a ``jump``, through that hypervisor (proxy_option)."""
    proxy = ['-o', proxy_option(jump, connect_timeout)] if jump is not None else []
    # '--': nothing after the options is read as one (an address or user starting with '-').
    return (['ssh'] + ssh_options(key, known_hosts, connect_timeout) + proxy + ['--', '%s@%s' % (user, address)]
            + list(command))


def _config_value(path):
    """A file name as an ssh_config value: quoted (a blank would split it), %-tokens escaped."""
    return '"%s"' % path.replace('%', '%%')


def proxy_command(jump, connect_timeout=5):
    """The ProxyCommand through ``jump``: an ``ssh -W`` that checks the hypervisor's host key
    strictly against the jump's known_hosts (unlike ProxyJump, to which command-line
    options do not apply), with its key only, never asking anything.

    The outer ssh expands %-tokens in it and runs it with a shell; the inner one
    expands them again in its file options: each path is quoted for the shell and
    its % escaped for both.
    """
    def option(name, path):
        return shlex.quote('%s=%s' % (name, _config_value(path))).replace('%', '%%')
    # IdentityFile, not -i: ssh drops a -i file it cannot stat before it expands its tokens.
    argv = ['ssh', '-o', option('IdentityFile', jump.key), '-o', option('UserKnownHostsFile', jump.known_hosts),
            '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=yes', '-o', 'IdentitiesOnly=yes',
            '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=%d' % connect_timeout, '-o', 'LogLevel=ERROR',
            '-p', str(int(jump.port)), '-W', '%h:%p',
            '--', shlex.quote('%s@%s' % (jump.user, jump.host)).replace('%', '%%')]
    return ' '.join(argv)


def proxy_option(jump, connect_timeout=5):
    """The ``-o`` value of ssh that goes through ``jump``."""
    return 'ProxyCommand=%s' % proxy_command(jump, connect_timeout)


SSH_PORT = 22
# How long one login may take once sshd has the connection. A guest emulated on a
# loaded host can take many seconds for its banner and key exchange: hanging up
# earlier wastes the work, and every abandoned connection leaves the guest's sshd
# a pre-auth process to finish, until it refuses everyone (MaxStartups).
HANDSHAKE_TIMEOUT = 30.0


def open_ssh(address, timeout=1.0):
    """A TCP connection to the VM's sshd, or None while nothing listens there.

    The login then runs on this very connection (try_login ``sock``): one
    connection at a time per VM, never a probe plus a login.
    """
    try:
        return socket.create_connection((address, SSH_PORT), timeout=timeout)
    except OSError:
        return None


JUMP_CONNECT_TIMEOUT = 10.0


def where(jump):
    """A hypervisor as messages name it: its name, user, address and port."""
    return 'hypervisor %s (%s@%s port %s)' % (jump.name, jump.user, jump.host, jump.port)


def open_jump(jump, timeout=JUMP_CONNECT_TIMEOUT):
    """A paramiko SSHClient logged in to hypervisor ``jump``, to open channels to VMs through.

    Its host key must be the one in the jump's known_hosts (RejectPolicy: an unknown or
    changed key is refused and nothing is learnt); only the jump's key, no agent.
    Failure: JumpError naming the hypervisor and its address.
    """
    import paramiko

    class Refuse(paramiko.MissingHostKeyPolicy):
        def missing_host_key(self, client, hostname, key):
            raise JumpRefused('%s refused: its host key (%s) is not in %s'
                              % (where(jump), key.get_name(), jump.known_hosts))

    client = paramiko.SSHClient()
    try:
        client.load_host_keys(jump.known_hosts)
    except (IOError, OSError) as err:
        raise JumpError('cannot read the known_hosts of %s: %s' % (where(jump), err))
    client.set_missing_host_key_policy(Refuse())
    try:
        client.connect(jump.host, port=int(jump.port), username=jump.user, key_filename=jump.key,
                       look_for_keys=False, allow_agent=False, timeout=timeout,
                       banner_timeout=HANDSHAKE_TIMEOUT, auth_timeout=HANDSHAKE_TIMEOUT)
    except JumpRefused:
        client.close()
        raise
    except paramiko.BadHostKeyException as err:
        client.close()
        raise JumpRefused('%s refused: its host key is not the one in %s (%s)' % (where(jump), jump.known_hosts, err))
    except (paramiko.SSHException, OSError, EOFError) as err:
        client.close()
        raise JumpError('cannot reach %s: %s: %s' % (where(jump), type(err).__name__, err))
    return client


class Jumps(object):
    """The connections to jump hosts of one wait: one per hypervisor, shared by the threads of
    all the VMs behind it, opened when first needed and again when it has dropped."""

    def __init__(self, connect=None):
        self._connect = connect or open_jump
        self._clients = {}
        self._locks = collections.defaultdict(threading.Lock)
        self._lock = threading.Lock()

    def client(self, jump):
        """The open connection to ``jump`` (JumpError when it cannot be made)."""
        with self._lock:
            lock = self._locks[jump]
        with lock:
            client = self._clients.get(jump)
            transport = client.get_transport() if client is not None else None
            if transport is None or not transport.is_active():
                if client is not None:
                    client.close()
                    del self._clients[jump]
                self._clients[jump] = client = self._connect(jump)
            return client

    def channel(self, jump, address, port=None, timeout=HANDSHAKE_TIMEOUT):
        """A channel to ``address``:``port`` (the SSH port) through ``jump``, or None while nothing
        listens there; JumpError when the hypervisor itself cannot be reached."""
        import paramiko
        client = self.client(jump)
        try:
            return client.get_transport().open_channel('direct-tcpip', (address, port or SSH_PORT), ('127.0.0.1', 0),
                                                       timeout=timeout)
        except paramiko.ChannelException:
            return None  # the hypervisor could not connect to the VM's port: not listening yet
        except (paramiko.SSHException, OSError, EOFError) as err:
            if client.get_transport() is None or not client.get_transport().is_active():
                raise JumpError('lost the connection to %s: %s: %s' % (where(jump), type(err).__name__, err))
            return None

    def run(self, jump, command, timeout=JUMP_CONNECT_TIMEOUT):
        """The output of ``command`` (a command line for the login shell) run on hypervisor ``jump``
        on an exec channel of its connection. JumpError when it cannot be run within ``timeout``;
        the connection is then dropped, so the next call connects again."""
        import paramiko
        client = self.client(jump)
        try:
            _stdin, stdout, _stderr = client.exec_command(command, timeout=timeout)
            text = stdout.read().decode('utf-8', 'replace')
            stdout.channel.recv_exit_status()
            return text
        except (paramiko.SSHException, OSError, EOFError) as err:
            self.drop(jump)
            raise JumpError('cannot reach %s: %s: %s' % (where(jump), type(err).__name__, err or 'timed out'))

    def drop(self, jump):
        """Close the connection to ``jump`` (a dead one is never reused)."""
        with self._lock:
            client = self._clients.pop(jump, None)
        if client is not None:
            client.close()

    def close(self):
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()


def try_login(user, address, key, known_hosts, timeout=5.0, sock=None):
    """One SSH login with paramiko that runs ``true``; None when it worked, else why not.

    The host key must be the one in the prefix's known_hosts (RejectPolicy);
    no agent, no other key, no user known_hosts. ``sock``: a connection to the
    VM's port SSH_PORT to log in on (open_ssh); it is closed afterwards.
    """
    import paramiko  # a requirement of the modules that wait (checked by the runtime)
    client = paramiko.SSHClient()
    client.load_host_keys(known_hosts)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(address, port=SSH_PORT, sock=sock, username=user, key_filename=key, look_for_keys=False,
                       allow_agent=False, timeout=timeout, banner_timeout=timeout, auth_timeout=timeout)
        _stdin, stdout, _stderr = client.exec_command('true', timeout=timeout)
        status = stdout.channel.recv_exit_status()
        return None if status == 0 else '`true` exited %d' % status
    except (paramiko.SSHException, OSError, EOFError) as err:
        return '%s: %s' % (type(err).__name__, err)
    finally:
        client.close()
        if sock is not None:
            sock.close()


def _follow(threads, names, watch, ended, ready, limit, every=0.5):
    """Wait for the threads of wait_for_logins until each ended, or until ``limit`` (time.monotonic).

    A watch with ``tick`` (hypervisor_watch) looks at the hypervisors from here, between
    joins, and its ``stopped`` ends the wait of a VM at once, even while its thread is
    still in a try (left behind: a daemon thread). While a hypervisor of a VM still
    waited for is in doubt (it failed a look, not yet enough to give up), the looks go
    on, past ``limit`` and after the VM's thread ended at the end of a slice: a slice
    (a new process each) must not forget a failing hypervisor before it is given up on.
    """
    tick = getattr(watch, 'tick', None)
    pause = threading.Event()
    while True:
        waiting = [name for name in names if name not in ended and name not in ready]
        alive = [thread for name, thread in zip(names, threads) if name in waiting and thread.is_alive()]
        doubt = False
        if tick is not None and (alive or any(watch.in_doubt(name) for name in waiting)):
            tick()
            for name in waiting:
                why = watch.stopped(name)
                if why:
                    ended.setdefault(name, why)
            doubt = any(watch.in_doubt(name) for name in waiting if name not in ended)
            alive = [thread for name, thread in zip(names, threads)
                     if name not in ended and name not in ready and thread.is_alive()]
        if not (alive or doubt) or (time.monotonic() >= limit and not doubt):
            return
        if alive:
            alive[0].join(every if tick is not None else max(0.0, limit - time.monotonic()))
        else:
            pause.wait(every)


def wait_for_logins(targets, timeout=300.0, poll=0.25, why=None, watch=None, max_timeout=None,  # pylint: disable=too-many-arguments
                    budgets=None, until=None, given_up=None, elapsed=0.0, clock=time.monotonic, sleep=time.sleep,
                    jumps=None):
    """Wait until each target accepts an SSH login (runs ``true``), all in this one process.

    ``targets``: {name: (user, address, key, known_hosts[, jump])}. Each is watched in
    its own thread: a connection to its sshd, and on that same connection a
    real login with paramiko (one connection at a time per VM). A target with a
    ``jump`` (a Jump) is reached through that hypervisor: a channel of the one
    connection to it all its VMs share (``jumps``, a Jumps; made and closed here
    when not given). A jump host that cannot be reached is retried like a VM
    that does not answer, its JumpError being the try's error; one whose host
    key is refused ends the wait of its VMs at once.
    ``timeout`` is each VM's budget, unless ``budgets`` ({name: seconds}) gives it
    its own. With a ``watch`` (boot_watch.BootWatch), a
    VM whose budget is spent keeps being waited for while it is visibly
    progressing, up to ``max_timeout`` (default 4 x its budget); it is given up on
    at once when its console shows a kernel panic. A watch that also has ``tick``,
    ``stopped`` and ``in_doubt`` (hypervisor_watch.HypervisorWatch) is ticked from this
    thread and can end a VM's wait at any time (its ``stopped`` reason; _follow).
    With ``until`` (seconds), it returns after that long at the latest, the VMs
    still waited for being pending too: a set given as ``given_up`` receives the
    pending ones whose wait ended for good (the others may be waited for again).
    ``elapsed``: seconds the wait had already run before this call (budgets count from then).
    Nothing waits a fixed time: a VM is tried at once, and again ``poll``
    seconds after each failed try only (``clock`` and ``sleep`` are there for
    the unit tests).
    Returns (ready {name: seconds waited}, pending [names]); a dict given as
    ``why`` receives, for each pending one, why its last try failed and why the
    wait ended.
    """
    logging.getLogger('paramiko').setLevel(logging.CRITICAL)  # refusals while booting are expected
    started = clock()
    origin = started - elapsed  # the wait may have begun in an earlier call (a slice of it)
    budget = dict((name, (budgets or {}).get(name) or timeout) for name in targets)
    hard_limit = dict((name, max_timeout if max_timeout is not None else 4 * budget[name]) for name in targets)
    slice_end = started + until if until is not None else None
    ready, errors, ended = {}, {}, {}

    stopped = getattr(watch, 'stopped', None)  # a watch that can end a wait early (hypervisor_watch)
    in_doubt = getattr(watch, 'in_doubt', lambda name: False)

    def keep_waiting(name):
        now = clock()
        budget_end, hard_end = origin + budget[name], origin + hard_limit[name]
        why_stop = stopped(name) if stopped is not None else None
        if why_stop:
            ended.setdefault(name, why_stop)
            return False
        if slice_end is not None and now >= slice_end and now < budget_end and not in_doubt(name):
            return False  # still within its budget: pending, not given up
        if watch is not None and now < budget_end:
            watch.look(name)  # samples along the way, so a verdict compares recent ones
        if now < budget_end:
            return True
        if watch is None:
            ended[name] = 'its budget of %ss ran out' % budget[name]
            return False
        if now >= hard_end:
            ended[name] = 'still progressing (%s) at the limit of %ss' % (watch.last_progress(name), hard_limit[name])
            return False
        stalled = watch.verdict(name)
        if stalled:
            ended[name] = 'its budget of %ss ran out and %s' % (budget[name], stalled)
            return False
        return slice_end is None or now < slice_end or in_doubt(name)

    own_jumps = jumps is None
    jumps = Jumps() if own_jumps else jumps

    def watch_one(name, user, address, key, known_hosts, jump=None):
        while keep_waiting(name):
            try:
                sock = open_ssh(address) if jump is None else jumps.channel(jump, address)
            except JumpRefused as err:
                errors[name], ended[name] = str(err), 'the host key of hypervisor %s was refused' % jump.name
                return
            except JumpError as err:
                errors[name] = str(err)
                sleep(poll)
                continue
            if sock is not None:
                error = try_login(user, address, key, known_hosts, timeout=HANDSHAKE_TIMEOUT, sock=sock)
                if error is None:
                    ready[name] = clock() - origin
                    return
                errors[name] = error
            else:
                errors[name] = 'port 22 of %s not open%s' % (address, '' if jump is None else ' (through %s)' % where(jump))
            sleep(poll)

    threads = [threading.Thread(target=watch_one, args=(name,) + tuple(target), daemon=True)
               for name, target in sorted(targets.items())]
    for thread in threads:
        thread.start()
    last_end = origin + max(hard_limit.values() or [0])
    try:
        _follow(threads, sorted(targets), watch, ended, ready,
                time.monotonic() + max(0.0, min(last_end, slice_end or last_end) - clock()) + 10)
    finally:
        if own_jumps:
            jumps.close()
    pending = sorted(set(targets) - set(ready))
    if given_up is not None:
        given_up.update(name for name in pending if name in ended)
    if why is not None:
        why.update((name, '%s; %s' % (errors.get(name, 'not tried'), ended.get(name, 'still waiting')))
                   for name in pending)
    return dict(ready), pending
