# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The boot watch of a multi-host prefix: each VM seen on its own hypervisor, over SSH.

The controller of a multi-host prefix has neither the VMs' domains nor their
consoles: they are on the hypervisors. A HypervisorWatch looks at them there,
through the same strict connection the logins use (ssh.Jumps: paramiko, the
recorded key and known_hosts), with one small command per hypervisor on an exec
channel (``virsh domstats`` and the size and tail of each console log of its
part), at most every SAMPLE_EVERY seconds. It is a boot_watch.BootWatch, so a VM
whose budget is spent is waited for by the same rule as on one host (its console
grows or it uses CPU); besides, it ends a VM's wait early (``stopped``):

- when the VM's hypervisor, or the one its logins go through, failed
  UNREACHABLE_TRIES looks in a row (each up to ssh.JUMP_CONNECT_TIMEOUT): about
  30 s of silence, naming the hypervisor;
- when its domain is not running there (NOT_RUNNING_LOOKS looks in a row), or its
  console shows a kernel panic.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import shlex
import time

from ansible_collections.lago.lago.plugins.module_utils.boot_watch import PANIC_MARKS, BootWatch
from ansible_collections.lago.lago.plugins.module_utils.errors import JumpError
from ansible_collections.lago.lago.plugins.module_utils.ssh import JUMP_CONNECT_TIMEOUT, where

SAMPLE_EVERY = 5.0       # seconds between two looks at one hypervisor
UNREACHABLE_TRIES = 3    # failed looks in a row that end the wait of its VMs
NOT_RUNNING_LOOKS = 2    # looks in a row that saw a VM's domain not running
CONSOLE_TAIL = 8192      # bytes of a console's end searched for a kernel panic
# virsh's domain states (virDomainState): running, blocked, paused (e.g. while a snapshot is taken)
ALIVE = {1: 'running', 2: 'blocked', 3: 'paused'}
DEAD = {0: 'in no state', 4: 'shutting down', 5: 'shut off', 6: 'crashed', 7: 'suspended'}

# $1: libvirt URI, then the console logs. The hypervisor's clock ("now <epoch>"), virsh's stats and
# exit code, then one line per console: "console <bytes> <mtime> <panic lines>" (- -: no such file).
_SCRIPT = ('uri=$1; shift; echo "now $(date +%%s)"; virsh -r -c "$uri" domstats --raw --state --cpu-total; '
           'echo "virsh-rc $?"; for f in "$@"; do echo "console $(stat -c "%%s %%Y" -- "$f" 2>/dev/null || echo - -)'
           ' $(tail -c %d -- "$f" 2>/dev/null | grep -c -e %s)"; done'
           % (CONSOLE_TAIL, ' -e '.join(shlex.quote(mark.decode()) for mark in PANIC_MARKS)))


def look_command(uri, consoles):
    """The command line (for the hypervisor's login shell, as Ansible's) of one look."""
    return ' '.join(shlex.quote(arg) for arg in ['sh', '-c', _SCRIPT, 'sh', uri] + list(consoles))


def parse_look(text, consoles):
    """What look_command printed: ({domain name: (state number, cpu seconds or None)}, or None
    when virsh failed; {console path: (bytes or None, seconds since it last grew or None, panicked)})."""
    domains, current, virsh_ok, found, now = {}, None, False, [], None
    for line in text.splitlines():
        line = line.strip()
        fields = line.split()
        if line.startswith("Domain: '") and line.endswith("'"):
            current = line[len("Domain: '"):-1]
            domains[current] = [None, None]
        elif fields[:1] == ['now'] and len(fields) == 2 and fields[1].isdigit():
            now = int(fields[1])
        elif fields[:1] == ['virsh-rc']:
            virsh_ok = fields[1:] == ['0']
        elif fields[:1] == ['console'] and len(fields) == 4:
            size, mtime = (None, None) if fields[1] == '-' else (int(fields[1]), int(fields[2]))
            found.append((size, None if mtime is None or now is None else max(0, now - mtime), fields[3] != '0'))
        elif current is not None and '=' in line:
            key, value = line.split('=', 1)
            if key == 'state.state':
                domains[current][0] = int(value)
            elif key == 'cpu.time':
                domains[current][1] = int(value) / 1e9
    return (dict((name, tuple(value)) for name, value in domains.items()) if virsh_ok else None), \
        dict(zip(consoles, found))


class HypervisorWatch(BootWatch):
    """Progress of VMs on hypervisors: ``vms`` {name: (its hypervisor's Jump (None: not looked at),
    domain name, console log path there, the Jump its logins go through)}; ``jumps`` the wait's ssh.Jumps."""

    def __init__(self, vms, jumps, stall=60.0, clock=time.monotonic, quiet_for=None, uri='qemu:///system',
                 every=SAMPLE_EVERY, tries=UNREACHABLE_TRIES):
        super(HypervisorWatch, self).__init__(vms, stall=stall, clock=clock, quiet_for=quiet_for)
        self.jumps, self.uri, self.every, self.tries = jumps, uri, every, tries
        self.hosts = sorted(set(h for vm in self.vms.values() for h in (vm[0], vm[3]) if h is not None))
        self.looked_at = {}    # jump -> when its last look began
        self.failures = {}     # jump -> (failed looks in a row, the last error, when the first of them began)
        self.domains = {}      # jump -> {domain: (state, cpu seconds)} of its last good look (None: virsh failed)
        self.consoles = {}     # console path -> (bytes, seconds since it grew, panicked)
        self.sampled_at = {}   # jump -> when its last good look began
        self.dead_looks = {}   # vm -> looks in a row that saw its domain not running
        self.samples = {}      # vm -> how many distinct looks of it this watch took

    def _consoles_on(self, jump):
        return sorted(vm[2] for vm in self.vms.values() if vm[0] == jump)

    def tick(self):
        """Look at each hypervisor whose last look is SAMPLE_EVERY seconds old (one command each)."""
        for jump in self.hosts:
            began = self.clock()
            if jump in self.looked_at and began - self.looked_at[jump] < self.every:
                continue
            self.looked_at[jump] = began
            consoles = self._consoles_on(jump)
            try:
                text = self.jumps.run(jump, look_command(self.uri, consoles), timeout=JUMP_CONNECT_TIMEOUT)
            except JumpError as err:
                count, _error, first = self.failures.get(jump, (0, None, began))
                self.failures[jump] = (count + 1, str(err), first)
                continue
            self.failures.pop(jump, None)
            self.domains[jump], seen = parse_look(text, consoles)
            self.consoles.update(seen)
            self.sampled_at[jump] = began
            self._count_dead(jump)
            for name, vm in self.vms.items():  # a wait taken up again: quiet since the console last grew
                if vm[0] == jump and name not in self.last and (seen.get(vm[2]) or (None, None))[1] is not None:
                    self.quiet_for[name] = seen[vm[2]][1]

    def _count_dead(self, jump):
        domains = self.domains[jump]
        for name, (own, domain, _console, _through) in self.vms.items():
            if own != jump or domains is None:
                continue
            state = (domains.get(domain) or (None, None))[0]
            self.dead_looks[name] = self.dead_looks.get(name, 0) + 1 if state not in ALIVE else 0

    def look(self, name, at=None):
        """A VM's sample is its hypervisor's last good look (none before the first one)."""
        at = self.sampled_at.get(self.vms[name][0])
        before = self.last.get(name)
        if at is None or (before is not None and before.at >= at):
            return before
        self.samples[name] = self.samples.get(name, 0) + 1
        return super(HypervisorWatch, self).look(name, at)

    def verdict(self, name):
        """BootWatch's verdict, once this watch has two looks of the VM's hypervisor to compare (its CPU
        time between them may show progress); a panic at once."""
        if self.vms[name][0] is None:
            return 'its hypervisor is not watched'  # its budget alone
        self.look(name)
        if self.samples.get(name, 0) < 2:
            return 'its console shows a kernel panic' if name in self.last and self.panicked(name) else None
        return super(HypervisorWatch, self).verdict(name)

    def measure(self, name):
        own, domain, console, _through = self.vms[name]
        cpu = ((self.domains.get(own) or {}).get(domain) or (None, None))[1]
        return (self.consoles.get(console) or (None,))[0] or 0, cpu

    def panicked(self, name):
        return bool((self.consoles.get(self.vms[name][2]) or (None, None, False))[2])

    def unreachable(self, jump):
        """Why ``jump`` counts as unreachable (UNREACHABLE_TRIES failed looks in a row), else None."""
        count, error, first = self.failures.get(jump, (0, None, None))
        if count < self.tries:
            return None
        head = 'cannot reach %s: ' % where(jump)
        return '%d tries in %ds failed, the last: %s' % (count, self.clock() - first,
                                                         error[len(head):] if error.startswith(head) else error)

    def in_doubt(self, name):
        """True while a hypervisor of ``name`` failed its last look, but not yet often enough to give up."""
        return any(0 < self.failures.get(jump, (0,))[0] < self.tries for jump in (self.vms[name][0], self.vms[name][3]))

    def stopped(self, name):
        """Why the wait of ``name`` must end now, else None."""
        own, domain, console, through = self.vms[name]
        for jump, role in ((own, 'that runs'), (through, 'that leads to')):
            why = self.unreachable(jump) if jump is not None else None
            if why:
                return 'cannot reach %s %s %s: %s' % (where(jump), role, name, why)
        if own is None:
            return None
        if self.dead_looks.get(name, 0) >= NOT_RUNNING_LOOKS:
            state = ((self.domains.get(own) or {}).get(domain) or (None,))[0]
            return 'its domain %s is %s on hypervisor %s' % (
                domain, DEAD.get(state, 'not defined') if state is not None else 'not defined', own.name)
        if self.panicked(name):
            return 'its console on hypervisor %s (%s) shows a kernel panic' % (own.name, console)
        return None

    def last_progress(self, name):
        own = self.vms[name][0]
        if own is None:
            return 'not watched: its hypervisor is not described in the prefix'
        return '%s, on %s' % (super(HypervisorWatch, self).last_progress(name), own.name)
