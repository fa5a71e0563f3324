# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is a booting VM still getting somewhere? Its serial console and its CPU time say.

A fixed SSH budget fails labs on a loaded host while their guests are visibly
booting. The wait for logins (ssh.wait_for_logins) asks a BootWatch, once its
budget is spent, whether each VM is still progressing: its console grew, or
it used a real share of a CPU, within the last ``stall`` seconds. A console
that shows a kernel panic ends the wait at once.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import time

# Below this share of one CPU (CPU seconds per wall second) a guest counts as
# idle: a booted, idle guest ticks at well under 1%, one that boots under TCG
# uses most of a CPU, and one starved on a loaded host still far more than this.
BUSY_SHARE = 0.05
PANIC_MARKS = (b'Kernel panic', b'end Kernel panic')


class Sample(object):
    """One look at a VM: console size, CPU time, and when."""

    def __init__(self, console_bytes, cpu_seconds, at):
        self.console_bytes = console_bytes
        self.cpu_seconds = cpu_seconds
        self.at = at


def console_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def console_panicked(path, tail=8192):
    """True when the last ``tail`` bytes of the console show a kernel panic."""
    try:
        with open(path, 'rb') as handle:
            handle.seek(max(0, console_size(path) - tail))
            text = handle.read()
    except (IOError, OSError):
        return False
    return any(mark in text for mark in PANIC_MARKS)


def cpu_seconds_of(dom):
    """CPU time the domain used so far, in seconds (None when libvirt cannot tell)."""
    try:
        return dom.info()[4] / 1e9
    except Exception:  # pylint: disable=broad-except  # a vanished domain is just "no progress"
        return None


class BootWatch(object):
    """Progress of several booting VMs: ``{name: (libvirt domain, console log path)}``."""

    def __init__(self, vms, stall=60.0, clock=time.monotonic, quiet_for=None):
        self.vms = dict(vms)
        self.stall = float(stall)
        self.clock = clock
        self.last = {}          # name -> Sample of the last look
        self.progress_at = {}   # name -> when it last progressed
        self.seen = {}          # name -> what the last progress was
        # name -> seconds since it last progressed before this watch began (a wait taken
        # up again, e.g. from the age of its console log); default: it just progressed.
        self.quiet_for = dict(quiet_for or {})

    def measure(self, name):
        """(console bytes, CPU seconds or None) of ``name`` now: its console log and libvirt domain here."""
        dom, console = self.vms[name]
        return console_size(console), cpu_seconds_of(dom)

    def panicked(self, name):
        """Does the console of ``name`` show a kernel panic?"""
        return console_panicked(self.vms[name][1])

    def look(self, name, at=None):
        """Take a sample of ``name`` (measured ``at``, default now); remember when it last progressed."""
        now = self.clock() if at is None else at
        sample = Sample(*(self.measure(name) + (now,)))
        before = self.last.get(name)
        self.last[name] = sample
        if before is None:
            quiet = self.quiet_for.get(name)
            self.progress_at[name] = now - quiet if quiet is not None else now
            self.seen[name] = 'console output' if quiet is not None else 'started'
            return sample
        if sample.console_bytes > before.console_bytes:
            self.progress_at[name], self.seen[name] = now, 'console output'
        elif (sample.cpu_seconds is not None and before.cpu_seconds is not None and now > before.at
              and (sample.cpu_seconds - before.cpu_seconds) / (now - before.at) >= BUSY_SHARE):
            self.progress_at[name], self.seen[name] = now, 'CPU use'
        return sample

    def verdict(self, name):
        """None while ``name`` is progressing, else why it is not (for the error message).

        A stall needs two looks: the CPU time between them may show progress."""
        first = name not in self.last
        self.look(name)
        if self.panicked(name):
            return 'its console shows a kernel panic'
        if first:
            return None
        quiet = self.clock() - self.progress_at[name]
        if quiet >= self.stall:
            return ('no console output and under %d%% of a CPU for %ds' % (BUSY_SHARE * 100, quiet))
        return None

    def last_progress(self, name):
        """What was seen last, and how long ago (for messages)."""
        if name not in self.progress_at:
            return 'not watched yet'
        return '%s %ds ago' % (self.seen[name], self.clock() - self.progress_at[name])
