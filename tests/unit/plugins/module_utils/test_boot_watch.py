# -*- coding: utf-8 -*-
"""boot_watch: a VM progresses while its console grows or it uses a CPU; a panic ends the wait."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import socket
import time

from ansible_collections.lago.lago.plugins.module_utils import boot_watch, ssh


class Clock(object):
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class Dom(object):
    """A libvirt domain whose CPU time the test sets (info()[4] is in ns)."""

    def __init__(self):
        self.cpu = 0.0

    def info(self):
        return [1, 0, 0, 1, int(self.cpu * 1e9)]


class Gone(object):
    def info(self):
        raise RuntimeError('domain vanished')


def test_console_output_is_progress(tmp_path):
    console, clock, dom = tmp_path / 'vm.log', Clock(), Dom()
    console.write_bytes(b'')
    watch = boot_watch.BootWatch({'vm': (dom, str(console))}, stall=60, clock=clock)
    watch.look('vm')
    clock.now += 50
    console.write_bytes(b'[  5.0] systemd[1]: starting\n')
    assert watch.verdict('vm') is None
    clock.now += 59
    assert watch.verdict('vm') is None
    clock.now += 2
    why = watch.verdict('vm')
    assert why and 'no console output' in why and '61s' in why


def test_cpu_use_is_progress_and_idle_is_not(tmp_path):
    clock, dom = Clock(), Dom()
    watch = boot_watch.BootWatch({'vm': (dom, str(tmp_path / 'none.log'))}, stall=30, clock=clock)
    watch.look('vm')
    for _step in range(5):      # 20% of a CPU: a starved but busy guest
        clock.now += 20
        dom.cpu += 4
        assert watch.verdict('vm') is None
    assert 'CPU use' in watch.last_progress('vm')
    for _step in range(2):      # 0.5%: idle
        clock.now += 20
        dom.cpu += 0.1
        last = watch.verdict('vm')
    assert last and 'under 5% of a CPU for 40s' in last


def test_kernel_panic_ends_at_once(tmp_path):
    console = tmp_path / 'vm.log'
    console.write_bytes(b'boot\n[ 1.2] Kernel panic - not syncing: VFS: Unable to mount root fs\n')
    watch = boot_watch.BootWatch({'vm': (Dom(), str(console))}, clock=Clock())
    assert 'kernel panic' in watch.verdict('vm')


def test_vanished_domain_is_no_progress(tmp_path):
    clock = Clock()
    watch = boot_watch.BootWatch({'vm': (Gone(), str(tmp_path / 'x'))}, stall=10, clock=clock)
    watch.look('vm')
    clock.now += 11
    assert 'no console output' in watch.verdict('vm')


def closed_port():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_wait_goes_past_the_budget_while_progressing(tmp_path, monkeypatch):
    """A closed SSH port with a console that grows for ~2 s: waited for past its 0.5 s budget,
    then given up on as stalled, and the reason says so."""
    port = closed_port()
    monkeypatch.setattr(ssh, 'open_ssh', lambda address, timeout=1.0: None)
    console = tmp_path / 'vm.log'
    console.write_bytes(b'')
    growing_until = time.monotonic() + 2.0

    class Growing(Dom):
        def info(self):
            if time.monotonic() < growing_until:
                with open(str(console), 'ab') as handle:
                    handle.write(b'.')
            return Dom.info(self)

    watch = boot_watch.BootWatch({'vm': (Growing(), str(console))}, stall=0.5)
    why = {}
    began = time.monotonic()
    ready, pending = ssh.wait_for_logins({'vm': ('root', '127.0.0.1', 'k', 'kh')}, timeout=0.5, poll=0.05,
                                         why=why, watch=watch, max_timeout=20)
    waited = time.monotonic() - began
    assert ready == {} and pending == ['vm']
    assert waited >= 2.0, waited        # kept waiting while the console grew
    assert waited < 15, waited          # but not to the hard limit
    assert 'no console output' in why['vm'] and 'port 22' in why['vm'], why


def test_wait_ends_at_the_hard_limit_when_always_progressing(tmp_path, monkeypatch):
    monkeypatch.setattr(ssh, 'open_ssh', lambda address, timeout=1.0: None)
    console = tmp_path / 'vm.log'

    class Busy(Dom):
        def info(self):
            with open(str(console), 'ab') as handle:
                handle.write(b'.')
            return Dom.info(self)

    watch = boot_watch.BootWatch({'vm': (Busy(), str(console))}, stall=5)
    why = {}
    ready, pending = ssh.wait_for_logins({'vm': ('root', '127.0.0.1', 'k', 'kh')}, timeout=0.3, poll=0.05,
                                         why=why, watch=watch, max_timeout=1.0)
    assert pending == ['vm'] and 'still progressing (console output' in why['vm'] and 'limit of 1' in why['vm'], why


def test_without_a_watch_the_budget_is_the_limit(monkeypatch):
    monkeypatch.setattr(ssh, 'open_ssh', lambda address, timeout=1.0: None)
    why = {}
    began = time.monotonic()
    _ready, pending = ssh.wait_for_logins({'vm': ('root', '127.0.0.1', 'k', 'kh')}, timeout=0.5, poll=0.05, why=why)
    assert pending == ['vm'] and time.monotonic() - began < 3
    assert 'budget of 0.5s ran out' in why['vm'], why


def test_a_wait_in_slices_returns_at_the_slice_without_giving_up(monkeypatch):
    """until: the VM still within its budget is pending but not given up (a playbook looks again)."""
    monkeypatch.setattr(ssh, 'open_ssh', lambda address, timeout=1.0: None)
    why, given_up = {}, set()
    began = time.monotonic()
    ready, pending = ssh.wait_for_logins({'vm': ('root', '127.0.0.1', 'k', 'kh')}, timeout=30, poll=0.05,
                                         why=why, until=0.3, given_up=given_up)
    assert ready == {} and pending == ['vm'] and given_up == set()
    assert time.monotonic() - began < 5
    assert 'still waiting' in why['vm'], why


def test_a_slice_past_the_budget_gives_up_on_a_vm_quiet_since_before_it(tmp_path, monkeypatch):
    """A wait taken up again: the console's age counts as quiet time, so a VM idle for longer
    than the stall is given up on within the slice (after two looks: CPU time could say otherwise)."""
    monkeypatch.setattr(ssh, 'open_ssh', lambda address, timeout=1.0: None)
    console = tmp_path / 'vm.log'
    console.write_bytes(b'login:')
    watch = boot_watch.BootWatch({'vm': (Dom(), str(console))}, stall=60, quiet_for={'vm': 100.0})
    why, given_up = {}, set()
    _ready, pending = ssh.wait_for_logins({'vm': ('root', '127.0.0.1', 'k', 'kh')}, timeout=0, poll=0.05,
                                          why=why, watch=watch, max_timeout=20, until=5, given_up=given_up)
    assert pending == ['vm'] and given_up == {'vm'}
    assert 'no console output and under 5% of a CPU for 100s' in why['vm'], why


def test_a_watch_taken_up_again_counts_cpu_use_as_progress(tmp_path):
    console, clock, dom = tmp_path / 'vm.log', Clock(), Dom()
    console.write_bytes(b'')
    watch = boot_watch.BootWatch({'vm': (dom, str(console))}, stall=60, clock=clock, quiet_for={'vm': 100.0})
    assert watch.verdict('vm') is None, 'one look cannot tell a stall'
    clock.now += 1
    dom.cpu += 0.9
    assert watch.verdict('vm') is None
    assert watch.last_progress('vm') == 'CPU use 0s ago'
    clock.now += 1
    assert watch.verdict('vm') is None


def test_the_console_line_shown_for_a_booting_vm_is_its_last_one_without_escapes(tmp_path):
    from ansible_collections.lago.lago.plugins.module_utils.prefix_power import console_last_line
    from ansible_collections.lago.lago.plugins.module_utils.prefix_state import Layout
    layout = Layout(str(tmp_path))
    os.makedirs(os.path.dirname(layout.console_log('vm01')))
    with open(layout.console_log('vm01'), 'wb') as handle:
        handle.write(b'[    1.0] Booting\r\n[\x1b[0;32m  OK  \x1b[0m] Started ssh.service\r\n\r\n  \r\n')
    assert console_last_line(layout, 'vm01') == '[  OK  ] Started ssh.service'
    with open(layout.console_log('vm01'), 'wb') as handle:
        handle.write(b'')
    assert console_last_line(layout, 'vm01') == ''
