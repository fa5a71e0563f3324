# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lago's ``start`` and ``stop``: power of a prefix's nets and VMs.

Every function takes a prefix_state.PrefixState. ``plan_start`` / ``plan_stop``
answer with a Plan whose before/after are the power states of what it touches
(VMs by name, nets as ``net:<name>``), so check mode predicts the real run.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import subprocess
import time

from ansible_collections.lago.lago.plugins.module_utils import domain, faults, network, prefix_vms
from ansible_collections.lago.lago.plugins.module_utils.boot_watch import BootWatch
from ansible_collections.lago.lago.plugins.module_utils.errors import PrefixError
from ansible_collections.lago.lago.plugins.module_utils.files import read_json
from ansible_collections.lago.lago.plugins.module_utils.hypervisor_watch import HypervisorWatch
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import lookup_domain
from ansible_collections.lago.lago.plugins.module_utils.plan import Plan
from ansible_collections.lago.lago.plugins.module_utils.prefix_state import Layout
from ansible_collections.lago.lago.plugins.module_utils.prefix_view import power_state
from ansible_collections.lago.lago.plugins.module_utils.ssh import Jumps, ssh_argv, wait_for_logins

RUNNING, SHUT_OFF = 'running', 'shut off'
# Escape sequences and other control characters of a console line.
_CONTROL_RE = re.compile(r'\x1b\[[0-9;?]*[A-Za-z]|[\x00-\x08\x0b-\x1f\x7f]')
NET_UP, NET_DOWN = 'active', 'inactive'


def _domain(conn, vm):
    dom = lookup_domain(conn, vm.libvirt_name)
    if dom is None:
        raise PrefixError('domain %s is missing from libvirt: run lago_prefix with state=present '
                          'to define it again' % vm.libvirt_name)
    return dom


def _network(conn, name, net):
    current = network.read_network(conn, net.libvirt_name)
    if current is None:
        raise PrefixError('network %s of net %s is missing from libvirt: run lago_prefix with '
                          'state=present to define it again' % (net.libvirt_name, name))
    return current


def _nets_down(conn, state):
    return ['net:%s' % name for name, net in state.nets.items() if not _network(conn, name, net)['active']]


def _vms_down(conn, state, names):
    return [name for name in names if not _domain(conn, state.vm(name)).isActive()]


def start(conn, state, vms=None, check_mode=False):
    """Start the prefix's nets, then the chosen VMs, all at once. Returns the names started."""
    names = state.chosen_vms(vms)
    started = start_nets(conn, state, check_mode)
    faults.point('start.after_nets')
    doms = [(name, _domain(conn, state.vm(name))) for name in names]
    down = [(name, dom) for name, dom in doms if not dom.isActive()]
    started += [name for name, _dom in down]
    if down and not check_mode:
        prefix_vms.let_qemu_reach(conn, state, [name for name, _dom in down])
        domain.in_parallel(_start_one, [dom for _name, dom in down])
    return started


def _start_one(dom):
    domain.start(dom)
    faults.point('start.after_domain')


def start_nets(conn, state, check_mode=False):
    """Start the prefix's nets that are down. Returns their names as ``net:<name>``."""
    started = []
    for name, net in state.nets.items():
        current = _network(conn, name, net)
        if not current['active']:
            started.append('net:%s' % name)
            if not check_mode:
                current['net'].create()
    return started


def _powers(conn, state, names, nets=True):
    """{vm: libvirt state name} of ``names`` and, with ``nets``, {net:<name>: active|inactive|absent}."""
    view = dict((name, power_state(conn, state.vm(name))) for name in names)
    if nets:
        for name, net in state.nets.items():
            live = network.read_network(conn, net.libvirt_name)
            view['net:%s' % name] = 'absent' if live is None else (NET_UP if live['active'] else NET_DOWN)
    return view


def plan_start(conn, state, vms=None):
    """Start the nets and the chosen VMs, as a Plan named ``power``; values: started."""
    names = state.chosen_vms(vms)
    steps = _nets_down(conn, state) + _vms_down(conn, state, names)
    before = _powers(conn, state, names)
    after = dict(before, **dict((name, NET_UP if name.startswith('net:') else RUNNING) for name in steps))

    def apply():
        started = start(conn, state, vms)
        return dict(started=started, after=_powers(conn, state, names))
    return Plan('power', before, after, steps, apply, values=dict(started=list(steps)))


def plan_stop(conn, state, vms=None, timeout=60.0):
    """Stop the chosen VMs (and, without ``vms``, the nets), as a Plan named ``power``; values: started
    (the names stopped, as lago_prefix has always returned them)."""
    names = state.chosen_vms(vms)
    steps = [name for name in names if _running(conn, state.vm(name))] + _nets_to_stop(conn, state, vms)
    before = _powers(conn, state, names, nets=not vms)
    after = dict(before, **dict((name, NET_DOWN if name.startswith('net:') else SHUT_OFF) for name in steps))

    def apply():
        stopped = stop(conn, state, vms, timeout=timeout)
        return dict(started=stopped, after=_powers(conn, state, names, nets=not vms))
    return Plan('power', before, after, steps, apply, values=dict(started=list(steps)))


def _running(conn, vm):
    dom = lookup_domain(conn, vm.libvirt_name)
    return dom is not None and dom.isActive()


def _login_targets(state, names):
    """{name: (user, address, key, known_hosts, jump)}: a VM of a multi-host prefix through its hypervisor."""
    layout = state.layout
    return dict((name, (state.vm(name).ssh_user, state.vm(name).address, layout.private_key, layout.known_hosts,
                        state.jump_for(name)))
                for name in names)


def _boot_watch(conn, state, names, stall, jumps, quiet_for=None):
    """What follows the boot of ``names`` past their budget: a BootWatch of the domains and consoles here
    (None without ``conn``); on a multi-host prefix a HypervisorWatch of each VM on its own hypervisor
    (through ``jumps``), which also ends a VM's wait early when a hypervisor cannot be reached."""
    if state.hypervisors:
        def part(hypervisor):
            return Layout((state.hypervisors.get(hypervisor) or {}).get('path') or state.layout.path)

        def own(name):  # a hypervisor the state does not describe is not looked at (its VM's jump still is)
            hypervisor = state.vm(name).hypervisor
            return state.jump_to(hypervisor, 'VM %s runs on hypervisor %s' % (name, hypervisor)) if hypervisor in state.hypervisors else None
        return HypervisorWatch(dict((name, (own(name), state.vm(name).libvirt_name,
                                            part(state.vm(name).hypervisor).console_log(name), state.jump_for(name)))
                                    for name in names), jumps, stall=stall)
    if conn is None:
        return None
    return BootWatch(dict((name, (lookup_domain(conn, state.vm(name).libvirt_name), state.layout.console_log(name)))
                          for name in names), stall=stall, quiet_for=quiet_for)


def _waited_vms(state, vms):
    # A VM made with bootstrap: false has no seed: no key of the prefix in it, no known host key.
    # A multi-host prefix's seeds are on the hypervisors: the controller's init spec tells
    # (without one, as for a state written by hand, every VM is waited for).
    if state.hypervisors:
        domains = (read_json(state.layout.spec_file, {}) or {}).get('domains') or {}
        return [name for name in state.chosen_vms(vms) if (domains.get(name) or {}).get('bootstrap') is not False]
    return [name for name in state.chosen_vms(vms) if state.vm(name).seed]


def _budgets(state, names, timeout):
    """Each VM's SSH budget: its own boot_time_sec, else ``timeout``."""
    return dict((name, state.vm(name).boot_time_sec or timeout) for name in names)


def _no_login(state, budgets, pending, why):
    tails = ['--- %s (%s): %s\n%s' % (name, state.vm(name).address, why.get(name, ''), _console_of(state, name))
             for name in pending]
    return PrefixError('no SSH login within %s to: %s\n%s' % (
        ', '.join('%ss (%s)' % (budgets[name], name) for name in pending), ', '.join(pending), '\n'.join(tails)))


def _console_of(state, name):
    hypervisor = state.vm(name).hypervisor
    if hypervisor:
        return '(its console is on hypervisor %s, in its part %s)' % (
            hypervisor, (state.hypervisors.get(hypervisor) or {}).get('path') or state.layout.path)
    return console_tail(state.layout, name)


def wait_for_ssh(state, vms=None, timeout=300.0, conn=None, stall=60.0):
    """Wait until every chosen VM accepts a login with the prefix key.

    ``timeout`` is each VM's budget, unless the init file gave it its own
    (``boot_time_sec``, Lago's SSH wait). With ``conn``, a VM whose budget is spent
    is waited for while its console grows or it uses a CPU (see boot_watch),
    up to four times the budget: a loaded host boots slowly, not wrongly.
    VMs made with ``bootstrap: false`` are not waited for: lago cannot log in to them.
    On failure: PrefixError naming the VMs that did not answer, why the wait
    for each ended, and the tail of each one's serial console.
    """
    names = _waited_vms(state, vms)
    jumps = Jumps()
    try:
        watch = _boot_watch(conn, state, names, stall, jumps)
        budgets = _budgets(state, names, timeout)
        why = {}
        ready, pending = wait_for_logins(_login_targets(state, names), timeout=timeout, why=why, watch=watch,
                                         budgets=budgets, jumps=jumps)
    finally:
        jumps.close()
    if pending:
        raise _no_login(state, budgets, pending, why)
    return ready


def look_for_ssh(state, conn, vms=None, timeout=300.0, since=None, wait=5.0, stall=60.0):
    """One slice of the wait of wait_for_ssh, for a playbook that shows each VM's progress between slices.

    The wait began at ``since`` (seconds since the epoch; now when None): budgets
    count from there, and a VM's quiet time from its console log's last change.
    Waits up to ``wait`` seconds, less when every VM answers. Returns ``{vm:
    {reachable, waited (seconds since ``since``), console (its last console line),
    progress}}``; a VM whose wait ended for good raises PrefixError as wait_for_ssh does.
    """
    since = time.time() if since is None else float(since)
    elapsed = max(0.0, time.time() - since)
    names = _waited_vms(state, vms)
    quiet = dict((name, max(0.0, time.time() - os.path.getmtime(state.layout.console_log(name))))
                 for name in names if os.path.exists(state.layout.console_log(name)))
    jumps = Jumps()
    try:
        watch = _boot_watch(conn, state, names, stall, jumps, quiet_for=quiet)
        budgets = _budgets(state, names, timeout)
        why, given_up = {}, set()
        ready, _pending = wait_for_logins(_login_targets(state, names), timeout=timeout, budgets=budgets, why=why,
                                          watch=watch, until=wait, given_up=given_up, elapsed=elapsed, jumps=jumps)
    finally:
        jumps.close()
    if given_up:
        raise _no_login(state, budgets, sorted(given_up), why)
    looks = {}
    for name in names:
        if name in ready:
            looks[name] = dict(reachable=True, waited=round(ready[name], 1))
        else:
            looks[name] = dict(reachable=False, waited=round(time.time() - since, 1),
                               console='' if state.hypervisors else console_last_line(state.layout, name),
                               progress=watch.last_progress(name))
    return looks


def console_last_line(layout, name):
    """The last line the VM's serial console printed, without control characters ('' when none)."""
    lines = [_CONTROL_RE.sub('', line).strip() for line in console_tail(layout, name, lines=10).splitlines()]
    lines = [line for line in lines if line]
    return lines[-1][:200] if lines else ''


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
    names = state.chosen_vms(vms)
    running = []
    for name in names:
        dom = lookup_domain(conn, state.vm(name).libvirt_name)
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
    domain.in_parallel(domain.destroy, [dom for _name, dom in running])
    prefix_vms.reclaim_seeds(conn, state, stopped)
    for login in logins:
        _reap(login)
    for name in _nets_to_stop(conn, state, vms):
        network.read_network(conn, state.net(name[4:]).libvirt_name)['net'].destroy()
        stopped.append(name)
    return stopped


def _request_poweroff(state, name):
    """Ask the guest over SSH to power off (not waited for: the VM's state is)."""
    layout = state.layout
    vm = state.vm(name)
    argv = ssh_argv(vm.ssh_user, vm.address, layout.private_key, layout.known_hosts,
                    ['systemctl', 'poweroff'], connect_timeout=3, jump=state.jump_for(vm))
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
    for name, net in state.nets.items():
        current = network.read_network(conn, net.libvirt_name)
        if current is not None and current['active']:
            found.append('net:%s' % name)
    return found
