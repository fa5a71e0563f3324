# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lago's ``start`` and ``stop``: power of a prefix's nets and VMs."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import subprocess
import time

from ansible_collections.lago.lago.plugins.module_utils import domain, network
from ansible_collections.lago.lago.plugins.module_utils.errors import PrefixError
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import lookup_domain
from ansible_collections.lago.lago.plugins.module_utils.prefix import Layout
from ansible_collections.lago.lago.plugins.module_utils.ssh import ssh_argv, wait_for_logins


def chosen_vms(state, vms):
    """The VM names to act on: all, or the given subset (each must exist)."""
    if not vms:
        return sorted(state['vms'])
    unknown = sorted(set(vms) - set(state['vms']))
    if unknown:
        raise PrefixError('vms %s are not in the prefix (it has: %s)'
                          % (', '.join(unknown), ', '.join(sorted(state['vms']))))
    return sorted(set(vms))


def _domain(conn, vm):
    dom = lookup_domain(conn, vm['libvirt_name'])
    if dom is None:
        raise PrefixError('domain %s is missing from libvirt: run lago_prefix with state=present '
                          'to define it again' % vm['libvirt_name'])
    return dom


def start(conn, layout, state, vms=None, check_mode=False):
    """Start the prefix's nets, then the chosen VMs. Returns the names started."""
    names = chosen_vms(state, vms)
    started = start_nets(conn, state, check_mode)
    doms = [(name, _domain(conn, state['vms'][name])) for name in names]
    for name, dom in doms:
        if not dom.isActive():
            started.append(name)
            if not check_mode:
                domain.start(dom)
    return started


def start_nets(conn, state, check_mode=False):
    """Start the prefix's nets that are down. Returns their names as ``net:<name>``."""
    started = []
    for name, net in sorted(state['nets'].items()):
        current = network.read_network(conn, net['libvirt_name'])
        if current is None:
            raise PrefixError('network %s of net %s is missing from libvirt: run lago_prefix with '
                              'state=present to define it again' % (net['libvirt_name'], name))
        if not current['active']:
            started.append('net:%s' % name)
            if not check_mode:
                current['net'].create()
    return started


def wait_for_ssh(layout, state, vms=None, timeout=300.0):
    """Wait until every chosen VM accepts a login with the prefix key.

    On timeout: PrefixError naming the VMs that did not, with the tail of
    each one's serial console.
    """
    names = chosen_vms(state, vms)
    targets = {name: (state['vms'][name]['ssh_user'], state['vms'][name]['address'],
                      layout.private_key, layout.known_hosts) for name in names}
    ready, pending = wait_for_logins(targets, timeout=timeout)
    if pending:
        tails = ['--- %s (%s):\n%s' % (name, state['vms'][name]['address'], console_tail(layout, name))
                 for name in pending]
        raise PrefixError('no SSH login within %ss to: %s\n%s' % (timeout, ', '.join(pending), '\n'.join(tails)))
    return ready


def console_tail(layout, name, lines=25):
    path = layout.console_log(name)
    if not os.path.exists(path):
        return '(no console log at %s)' % path
    with open(path, 'rb') as handle:
        text = handle.read()[-16384:].decode('utf-8', 'replace')
    return '\n'.join(text.replace('\r', '').splitlines()[-lines:])


def stop(conn, state, vms=None, timeout=60.0, check_mode=False):
    """Shut the chosen VMs down together (ACPI, and ``poweroff`` over SSH for
    guests that ignore the power button), then pull the plug on the ones still
    running after ``timeout``; with no subset, stop the nets too.
    Returns the names stopped."""
    names = chosen_vms(state, vms)
    running = []
    for name in names:
        dom = lookup_domain(conn, state['vms'][name]['libvirt_name'])
        if dom is not None and dom.isActive():
            running.append((name, dom))
    stopped = [name for name, _dom in running]
    if check_mode:
        return stopped + _nets_to_stop(conn, state, vms)
    for _name, dom in running:
        try:
            dom.shutdown()
        except Exception:  # pylint: disable=broad-except
            pass  # no ACPI listener yet: destroyed below
    logins = [_request_poweroff(state, name) for name, _dom in running]
    deadline = time.monotonic() + timeout
    while any(dom.isActive() for _name, dom in running) and time.monotonic() < deadline:
        time.sleep(0.5)
    for _name, dom in running:
        domain.destroy(dom)
    for login in logins:
        _reap(login)
    for name in _nets_to_stop(conn, state, vms):
        network.read_network(conn, state['nets'][name[4:]]['libvirt_name'])['net'].destroy()
        stopped.append(name)
    return stopped


def _request_poweroff(state, name):
    """Ask the guest over SSH to power off (not waited for: the VM's state is)."""
    layout = Layout(state['path'])
    vm = state['vms'][name]
    argv = ssh_argv(vm['ssh_user'], vm['address'], layout.private_key, layout.known_hosts,
                    ['systemctl', 'poweroff'], connect_timeout=3)
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _reap(login):
    try:
        login.wait(timeout=5)
    except subprocess.TimeoutExpired:
        login.kill()
        login.wait()


def _nets_to_stop(conn, state, vms):
    if vms:
        return []
    found = []
    for name, net in sorted(state['nets'].items()):
        current = network.read_network(conn, net['libvirt_name'])
        if current is not None and current['active']:
            found.append('net:%s' % name)
    return found
