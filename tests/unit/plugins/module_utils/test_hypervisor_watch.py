# -*- coding: utf-8 -*-
"""hypervisor_watch: a multi-host prefix's VMs watched on their own hypervisors (fake Jumps, fake clock)."""

from __future__ import absolute_import, division, print_function

import subprocess

import pytest

from ansible_collections.lago.lago.plugins.module_utils import hypervisor_watch, ssh
from ansible_collections.lago.lago.plugins.module_utils.errors import JumpError
from ansible_collections.lago.lago.plugins.module_utils.hypervisor_watch import HypervisorWatch, look_command, parse_look

HV1 = ssh.Jump('hv1', '192.168.250.11', 22, 'root', '/hv/id', '/hv/known_hosts')
HV2 = ssh.Jump('hv2', '192.168.250.12', 22, 'root', '/hv/id', '/hv/known_hosts')
VMS = {'web01': (HV1, 'p-web01', '/parts/p/logs/web01.console.log', HV1),
       'db01': (HV2, 'p-db01', '/parts/p/logs/db01.console.log', HV1)}


class Clock(object):
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _output(now, domains, consoles):
    """What look_command prints: ``domains`` {name: (state, cpu ns)}, ``consoles`` [(bytes, mtime, panics)]."""
    lines = ['now %d' % now]
    for name, (state, cpu) in sorted(domains.items()):
        lines += ["Domain: '%s'" % name, '  state.state=%d' % state, '  state.reason=1', '  cpu.time=%d' % cpu, '']
    lines.append('virsh-rc 0')
    lines += ['console %s' % ' '.join(str(field) for field in console) for console in consoles]
    return '\n'.join(lines) + '\n'


class FakeJumps(object):
    """``answers`` {hypervisor name: [text or JumpError, ...]} used in turn (the last one stays)."""

    def __init__(self, answers):
        self.answers = answers
        self.ran = []

    def run(self, jump, command, timeout=None):
        self.ran.append((jump.name, command, timeout))
        queue = self.answers[jump.name]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def _hv1_fine():
    return _output(5000, {'p-web01': (1, 10 ** 9)}, [(100, 4990, 0)])


def test_the_look_command_runs_in_a_shell_and_reads_consoles_and_virsh(tmp_path):
    """The command really runs (here, locally with a fake virsh): one line per console, in order."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'virsh').write_text("#!/bin/sh\necho \"args: $*\"\necho \"Domain: 'p-vm'\"\necho '  state.state=1'\n"
                                   "echo '  cpu.time=2500000000'\n")
    (bin_dir / 'virsh').chmod(0o755)
    console = tmp_path / 'a b.log'
    console.write_bytes(b'x' * 50 + b'\n[ 3.1] Kernel panic - not syncing: VFS\n')
    command = look_command('qemu:///system', [str(console), str(tmp_path / 'none.log')])
    text = subprocess.run(['sh', '-c', command], stdout=subprocess.PIPE, universal_newlines=True, check=True,
                          env=dict(PATH='%s:/usr/bin:/bin' % bin_dir)).stdout
    assert 'args: -r -c qemu:///system domstats --raw --state --cpu-total' in text
    domains, consoles = parse_look(text, [str(console), str(tmp_path / 'none.log')])
    assert domains == {'p-vm': (1, 2.5)}
    size, quiet, panicked = consoles[str(console)]
    assert size == console.stat().st_size and 0 <= quiet < 60 and panicked
    assert consoles[str(tmp_path / 'none.log')] == (None, None, False)


def test_a_failed_virsh_tells_nothing_of_the_domains():
    text = 'now 5\nerror: failed to connect to the hypervisor\nvirsh-rc 1\nconsole 10 4 0\n'
    assert parse_look(text, ['/c']) == (None, {'/c': (10, 1, False)})


def test_a_vm_whose_hypervisor_stops_answering_ends_after_the_tries_naming_it():
    clock = Clock()
    down = JumpError('cannot reach hypervisor hv2 (root@192.168.250.12 port 22): NoValidConnectionsError: '
                     'Unable to connect to port 22 on 192.168.250.12')
    jumps = FakeJumps({'hv1': [_hv1_fine()], 'hv2': [_output(5000, {'p-db01': (1, 10 ** 9)}, [(10, 4999, 0)]), down]})
    watch = HypervisorWatch(VMS, jumps, clock=clock)
    watch.tick()
    assert watch.stopped('db01') is None and not watch.in_doubt('db01')
    assert all(timeout == ssh.JUMP_CONNECT_TIMEOUT for _name, _command, timeout in jumps.ran)
    clock.now += 1
    watch.tick()  # too soon: nobody is asked again
    assert len(jumps.ran) == 2
    for count in range(1, hypervisor_watch.UNREACHABLE_TRIES):
        clock.now += hypervisor_watch.SAMPLE_EVERY
        watch.tick()
        assert watch.in_doubt('db01') and watch.stopped('db01') is None, count
        assert not watch.in_doubt('web01') and watch.stopped('web01') is None
    clock.now += hypervisor_watch.SAMPLE_EVERY
    watch.tick()
    why = watch.stopped('db01')
    assert why == ('cannot reach hypervisor hv2 (root@192.168.250.12 port 22) that runs db01: 3 tries in 10s failed, '
                   'the last: NoValidConnectionsError: Unable to connect to port 22 on 192.168.250.12'), why
    assert not watch.in_doubt('db01') and watch.stopped('web01') is None


def test_a_hypervisor_that_answers_again_clears_the_doubt():
    clock = Clock()
    down = JumpError('cannot reach hypervisor hv2 (root@192.168.250.12 port 22): timeout')
    fine = _output(5000, {'p-db01': (1, 10 ** 9)}, [(10, 4999, 0)])
    jumps = FakeJumps({'hv1': [_hv1_fine()], 'hv2': [down, down, fine]})
    watch = HypervisorWatch(VMS, jumps, clock=clock)
    for _look in range(3):
        watch.tick()
        clock.now += hypervisor_watch.SAMPLE_EVERY
    assert not watch.in_doubt('db01') and watch.stopped('db01') is None


def test_the_jump_host_unreachable_ends_the_vms_behind_it():
    clock = Clock()
    jumps = FakeJumps({'hv1': [JumpError('cannot reach hypervisor hv1 (root@192.168.250.11 port 22): timeout')],
                       'hv2': [_output(5000, {'p-db01': (1, 10 ** 9)}, [(10, 4999, 0)])]})
    watch = HypervisorWatch(VMS, jumps, clock=clock, tries=2)
    for _look in range(2):
        watch.tick()
        clock.now += hypervisor_watch.SAMPLE_EVERY
    assert watch.stopped('web01').startswith('cannot reach hypervisor hv1 (root@192.168.250.11 port 22) that runs web01')
    assert watch.stopped('db01').startswith('cannot reach hypervisor hv1 (root@192.168.250.11 port 22) that leads to db01')


@pytest.mark.parametrize('domains, expected', [({'p-db01': (5, 10 ** 9)}, 'its domain p-db01 is shut off on hypervisor hv2'),
                                               ({}, 'its domain p-db01 is not defined on hypervisor hv2')])
def test_a_domain_not_running_ends_its_wait_after_two_looks(domains, expected):
    clock = Clock()
    jumps = FakeJumps({'hv1': [_hv1_fine()], 'hv2': [_output(5000, domains, [(10, 4999, 0)])]})
    watch = HypervisorWatch(VMS, jumps, clock=clock)
    watch.tick()
    assert watch.stopped('db01') is None
    clock.now += hypervisor_watch.SAMPLE_EVERY
    watch.tick()
    assert watch.stopped('db01') == expected and watch.stopped('web01') is None


def test_a_failed_virsh_does_not_end_any_wait():
    clock = Clock()
    jumps = FakeJumps({'hv1': [_hv1_fine()], 'hv2': ['now 5000\nvirsh-rc 1\nconsole 10 4999 0\n']})
    watch = HypervisorWatch(VMS, jumps, clock=clock)
    for _look in range(3):
        watch.tick()
        clock.now += hypervisor_watch.SAMPLE_EVERY
    assert watch.stopped('db01') is None


def test_a_panic_on_the_hypervisors_console_ends_the_wait_at_once():
    clock = Clock()
    jumps = FakeJumps({'hv1': [_hv1_fine()], 'hv2': [_output(5000, {'p-db01': (1, 10 ** 9)}, [(900, 4999, 1)])]})
    watch = HypervisorWatch(VMS, jumps, clock=clock)
    watch.tick()
    assert watch.stopped('db01') == ('its console on hypervisor hv2 (/parts/p/logs/db01.console.log) shows a kernel '
                                     'panic')


def test_past_its_budget_a_vm_is_followed_by_its_console_and_cpu_on_its_hypervisor():
    """The single-host rule on the hypervisor's samples: console growth or CPU use is progress, 60 s of
    neither a stall; a wait taken up again counts the quiet time from the console's age there."""
    clock = Clock()
    answers = []
    jumps = FakeJumps({'hv1': [_hv1_fine()], 'hv2': answers})
    watch = HypervisorWatch(VMS, jumps, clock=clock, stall=60)
    assert watch.verdict('db01') is None and watch.look('db01') is None  # nothing seen yet: no verdict
    answers.append(_output(5000, {'p-db01': (1, 10 * 10 ** 9)}, [(100, 4970, 0)]))  # console 30 s old
    watch.tick()
    assert watch.verdict('db01') is None and watch.last_progress('db01') == 'console output 30s ago, on hv2'
    # console grows: progress
    clock.now += 10
    answers[0] = _output(5010, {'p-db01': (1, 10 * 10 ** 9)}, [(200, 5009, 0)])
    watch.tick()
    assert watch.verdict('db01') is None and watch.last_progress('db01') == 'console output 0s ago, on hv2'
    # the console is quiet but the guest uses half a CPU: progress
    for _look in range(8):
        clock.now += 10
        cpu = answers[0].split('cpu.time=')[1].split()[0]
        answers[0] = _output(5010, {'p-db01': (1, int(cpu) + 5 * 10 ** 9)}, [(200, 5009, 0)])
        watch.tick()
        assert watch.verdict('db01') is None
    assert watch.last_progress('db01') == 'CPU use 0s ago, on hv2'
    # idle and quiet for the stall time: the verdict says so
    old_console = _output(5100, {'p-db01': (1, 10 ** 9)}, [(200, 5000, 0)])  # its console 100 s old
    quiet = HypervisorWatch(VMS, FakeJumps({'hv1': [_hv1_fine()], 'hv2': [old_console]}), clock=clock, stall=60)
    quiet.tick()
    assert quiet.verdict('db01') is None and quiet.verdict('db01') is None  # one look: its CPU use is not known yet
    clock.now += 5
    quiet.tick()
    assert quiet.verdict('db01') == 'no console output and under 5% of a CPU for 105s'
    for _look in range(7):
        clock.now += 10
        watch.tick()
    assert watch.verdict('db01') == 'no console output and under 5% of a CPU for 75s'


class _StoppingWatch(object):
    """A watch with tick/stopped/in_doubt as hypervisor_watch's: ``stop_at`` {vm: tick count}."""

    def __init__(self, stop_at, doubt=()):
        self.stop_at, self.doubt, self.ticks = stop_at, set(doubt), 0

    def tick(self):
        self.ticks += 1

    def stopped(self, name):
        return 'cannot reach hypervisor hv2' if name in self.stop_at and self.ticks >= self.stop_at[name] else None

    def in_doubt(self, name):
        return name in self.doubt and not self.stopped(name)

    def look(self, name):
        pass

    def last_progress(self, name):
        return ''


def test_the_wait_of_a_vm_ends_early_when_the_watch_stops_it_even_mid_try(monkeypatch):
    """db01's try hangs (its hypervisor is gone): the wait returns as soon as the watch stops it, its thread left."""
    monkeypatch.setattr(ssh, 'try_login', lambda *args, **kwargs: None)
    release = __import__('threading').Event()

    class Jumps(object):
        def channel(self, jump, address):
            if address == '10.0.0.2':
                release.wait(60)  # a try that would last long
                return None
            return ('channel', address)

        def close(self):
            pass
    why, given_up = {}, set()
    watch = _StoppingWatch({'db01': 3}, doubt={'db01'})
    ready, pending = ssh.wait_for_logins({'web01': ('root', '10.0.0.1', 'k', 'kh', HV1),
                                          'db01': ('root', '10.0.0.2', 'k', 'kh', HV1)},
                                         timeout=300, poll=0.05, why=why, given_up=given_up, watch=watch,
                                         until=0.1, jumps=Jumps())
    release.set()
    assert list(ready) == ['web01'] and pending == ['db01'] and given_up == {'db01'}
    assert why['db01'].endswith('; cannot reach hypervisor hv2'), why
    assert watch.ticks >= 3  # the slice (0.1 s) went on while db01's hypervisor was in doubt


def test_a_hypervisor_in_doubt_is_looked_at_again_after_the_slice_ended_until_given_up(monkeypatch):
    """db01's thread ends at the end of its slice (port not open), its hypervisor having failed one look:
    the wait goes on looking until the watch gives it up, so the next slice (a new process) does not begin
    the count again."""
    monkeypatch.setattr(ssh, 'try_login', lambda *args, **kwargs: None)

    class Jumps(object):
        def channel(self, jump, address):
            return None  # port 22 not open yet

        def close(self):
            pass
    why, given_up = {}, set()
    watch = _StoppingWatch({'db01': 4}, doubt={'db01'})
    ready, pending = ssh.wait_for_logins({'db01': ('root', '10.0.0.2', 'k', 'kh', HV1)}, timeout=300, poll=0.01,
                                         why=why, given_up=given_up, watch=watch, until=0, jumps=Jumps())
    assert ready == {} and pending == ['db01'] and given_up == {'db01'} and watch.ticks == 4
    assert why['db01'] == 'port 22 of 10.0.0.2 not open (through hypervisor hv1 (root@192.168.250.11 port 22)); ' \
        'cannot reach hypervisor hv2', why
    # not in doubt: the slice ends it as pending, without any look beyond the slice
    watch = _StoppingWatch({})
    given_up = set()
    ready, pending = ssh.wait_for_logins({'db01': ('root', '10.0.0.2', 'k', 'kh', HV1)}, timeout=300, poll=0.01,
                                         given_up=given_up, watch=watch, until=0, jumps=Jumps())
    assert pending == ['db01'] and given_up == set() and watch.ticks <= 1


def test_a_vm_on_a_hypervisor_the_prefix_does_not_describe_is_watched_through_its_jump_only():
    clock = Clock()
    jumps = FakeJumps({'hv1': [JumpError('cannot reach hypervisor hv1 (root@192.168.250.11 port 22): timeout')]})
    watch = HypervisorWatch({'db01': (None, 'p-db01', '/c', HV1)}, jumps, clock=clock, tries=2)
    assert watch.hosts == [HV1] and watch.last_progress('db01').startswith('not watched')
    assert watch.verdict('db01') == 'its hypervisor is not watched'  # past its budget: its budget alone
    for _look in range(2):
        watch.tick()
        clock.now += hypervisor_watch.SAMPLE_EVERY
    assert watch.stopped('db01').startswith('cannot reach hypervisor hv1 (root@192.168.250.11 port 22) that leads to db01')
    assert all(name == 'hv1' for name, _command, _timeout in jumps.ran)
