# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SSH to prefix VMs: strict host keys from the prefix's own known_hosts."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import logging
import socket
import threading
import time


def ssh_options(key, known_hosts, connect_timeout=5):
    """The ssh -o options every login to a prefix VM uses.

    Host keys are checked strictly against the prefix's known_hosts and the
    user's own known_hosts files are neither read nor written.
    """
    return ['-i', key, '-o', 'IdentitiesOnly=yes', '-o', 'UserKnownHostsFile=%s' % known_hosts,
            '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=yes',
            '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=%d' % connect_timeout, '-o', 'LogLevel=ERROR']


def ssh_argv(user, address, key, known_hosts, command=(), connect_timeout=5):
    # '--': nothing after the options is read as one (an address or user starting with '-').
    return ['ssh'] + ssh_options(key, known_hosts, connect_timeout) + ['--', '%s@%s' % (user, address)] + list(command)


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


def wait_for_logins(targets, timeout=300.0, poll=0.25, why=None, watch=None, max_timeout=None,  # pylint: disable=too-many-arguments
                    budgets=None, until=None, given_up=None, elapsed=0.0, clock=time.monotonic, sleep=time.sleep):
    """Wait until each target accepts an SSH login (runs ``true``), all in this one process.

    ``targets``: {name: (user, address, key, known_hosts)}. Each is watched in
    its own thread: a connection to its sshd, and on that same connection a
    real login with paramiko (one connection at a time per VM).
    ``timeout`` is each VM's budget, unless ``budgets`` ({name: seconds}) gives it
    its own. With a ``watch`` (boot_watch.BootWatch), a
    VM whose budget is spent keeps being waited for while it is visibly
    progressing, up to ``max_timeout`` (default 4 x its budget); it is given up on
    at once when its console shows a kernel panic.
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

    def keep_waiting(name):
        now = clock()
        budget_end, hard_end = origin + budget[name], origin + hard_limit[name]
        if slice_end is not None and now >= slice_end and now < budget_end:
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
        return slice_end is None or now < slice_end

    def watch_one(name, user, address, key, known_hosts):
        while keep_waiting(name):
            sock = open_ssh(address)
            if sock is not None:
                error = try_login(user, address, key, known_hosts, timeout=HANDSHAKE_TIMEOUT, sock=sock)
                if error is None:
                    ready[name] = clock() - origin
                    return
                errors[name] = error
            else:
                errors[name] = 'port 22 of %s not open' % address
            sleep(poll)

    threads = [threading.Thread(target=watch_one, args=(name,) + tuple(target), daemon=True)
               for name, target in sorted(targets.items())]
    for thread in threads:
        thread.start()
    last_end = origin + max(hard_limit.values() or [0])
    for thread in threads:
        thread.join(max(0.0, min(last_end, slice_end or last_end) - clock()) + 10)
    pending = sorted(set(targets) - set(ready))
    if given_up is not None:
        given_up.update(name for name in pending if name in ended)
    if why is not None:
        why.update((name, '%s; %s' % (errors.get(name, 'not tried'), ended.get(name, 'still waiting')))
                   for name in pending)
    return dict(ready), pending
