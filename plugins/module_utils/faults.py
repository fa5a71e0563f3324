# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fault points: a test hook for crash-consistency tests, and nothing else.

The engine calls ``point('<verb>.<step>')`` at named steps (see docs/RELIABILITY.md
for the list). When the environment variable ``LAGO_FAULT_POINT`` names that
point, the current process is killed with SIGKILL right there, as a power cut or
an OOM kill would: no rollback, no ``finally``, no lock released but by the
kernel. ``LAGO_FAULT_POINT=<name>:<n>`` kills at the n-th time the point is
passed in this process. ``LAGO_FAULT_SIGNAL=INT`` (or ``TERM``) sends that signal
instead, as a user's Ctrl-C or a CI job's cancel would: then the run must roll
back there and then. Without the variables (every normal run) a point does
nothing.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import signal

ENV = 'LAGO_FAULT_POINT'
SIGNAL_ENV = 'LAGO_FAULT_SIGNAL'
_passed = {}


def point(name):
    """Die here (SIGKILL, or LAGO_FAULT_SIGNAL) when LAGO_FAULT_POINT is ``name`` (or ``name:n`` and this is
    the n-th pass)."""
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    target, _sep, count = wanted.partition(':')
    if target != name:
        return
    _passed[name] = _passed.get(name, 0) + 1
    if _passed[name] >= int(count or 1):
        os.kill(os.getpid(), getattr(signal, 'SIG' + os.environ.get(SIGNAL_ENV, 'KILL').upper()))
