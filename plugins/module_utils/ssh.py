# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SSH to prefix VMs: strict host keys from the prefix's own known_hosts."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import socket
import subprocess
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
    return ['ssh'] + ssh_options(key, known_hosts, connect_timeout) + ['%s@%s' % (user, address)] + list(command)


def port_open(address, port=22, timeout=0.5):
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_logins(targets, timeout=300.0, poll=0.25):
    """Wait until each target accepts an SSH login (runs ``true``).

    ``targets``: {name: (user, address, key, known_hosts)}. All are polled
    side by side: the port first (cheap), then a real login. Returns
    (ready {name: seconds waited}, pending [names]) when all are ready or
    ``timeout`` ran out.
    """
    started = time.monotonic()
    deadline = started + timeout
    pending = dict(targets)
    ready = {}
    while pending and time.monotonic() < deadline:
        logins = {}
        for name, (user, address, key, known_hosts) in pending.items():
            if port_open(address):
                logins[name] = subprocess.Popen(
                    ssh_argv(user, address, key, known_hosts, ['true'], connect_timeout=5),
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for name, proc in logins.items():
            try:
                rc = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                rc = -1
            if rc == 0:
                ready[name] = time.monotonic() - started
                del pending[name]
        if pending:
            time.sleep(poll)
    return ready, sorted(pending)
