# -*- coding: utf-8 -*-
"""Helpers of the fault and concurrency tests: run a module the way ansible runs it
(``python -m <module> args.json``, as AnsiballZ does in the end; seconds faster than
ansible-playbook), with a fault point (faults.point, LAGO_FAULT_POINT) armed or not;
restart the lab's libvirtd; and FIGURES, what the suite measured (see
tests/integration/faults/conftest.py)."""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIGURES = {}


class ModuleRun(object):
    def __init__(self, module, args, proc, seconds):
        self.module, self.args, self.rc, self.seconds = module, args, proc.returncode, seconds
        self.stdout, self.stderr = proc.stdout, proc.stderr
        try:
            self.result = json.loads(proc.stdout) if proc.stdout.strip() else None
        except ValueError:
            self.result = None

    @property
    def killed(self):
        return self.rc == -9

    @property
    def ok(self):
        return self.rc == 0 and self.result is not None and not self.result.get('failed')

    @property
    def msg(self):
        return (self.result or {}).get('msg', '')

    def __repr__(self):
        return '<%s rc=%s %s stderr=%s>' % (self.module, self.rc, (self.stdout or '')[-3000:], self.stderr[-3000:])


def run_module(module, args, fault=None, timeout=600, signal_name=None):
    """Run lago.lago.<module> with ``args``; with ``fault``, LAGO_FAULT_POINT is set to it
    (and LAGO_FAULT_SIGNAL to ``signal_name``: INT, TERM; SIGKILL without it)."""
    env = dict(os.environ)
    env.pop('LAGO_FAULT_POINT', None)
    env.pop('LAGO_FAULT_SIGNAL', None)
    if fault:
        env['LAGO_FAULT_POINT'] = fault
    if signal_name:
        env['LAGO_FAULT_SIGNAL'] = signal_name
    with tempfile.NamedTemporaryFile('w', suffix='.json', prefix='lago-args-') as handle:
        json.dump(dict(ANSIBLE_MODULE_ARGS=args), handle)
        handle.flush()
        started = time.monotonic()
        proc = subprocess.run([sys.executable, '-m', 'ansible_collections.lago.lago.plugins.modules.%s' % module, handle.name],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                              timeout=timeout, check=False, cwd=REPO)
    return ModuleRun(module, args, proc, time.monotonic() - started)


def spawn_module(module, args, fault=None):
    """run_module in the background: (Popen, args file path); see finish()."""
    env = dict(os.environ)
    env.pop('LAGO_FAULT_POINT', None)
    if fault:
        env['LAGO_FAULT_POINT'] = fault
    handle = tempfile.NamedTemporaryFile('w', suffix='.json', prefix='lago-args-', delete=False)
    json.dump(dict(ANSIBLE_MODULE_ARGS=args), handle)
    handle.close()
    proc = subprocess.Popen([sys.executable, '-m', 'ansible_collections.lago.lago.plugins.modules.%s' % module, handle.name],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, cwd=REPO)
    proc.lago = (module, args, handle.name, time.monotonic())
    return proc


def finish(proc, timeout=900):
    module, args, path, started = proc.lago
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    finally:
        os.unlink(path)
    done = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    return ModuleRun(module, args, done, time.monotonic() - started)


def restart_libvirtd():
    subprocess.run([os.path.join(REPO, 'hack', 'lab'), 'restart-libvirtd'], check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
