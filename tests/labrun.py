# -*- coding: utf-8 -*-
"""Run ansible, ansible-playbook and ansible-inventory from lab tests, the way a user would."""

from __future__ import absolute_import, division, print_function

import json
import os
import re
import shutil
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECAP_RE = re.compile(r'^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', re.M)


class Run(object):
    def __init__(self, argv, proc):
        self.argv = argv
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    @property
    def output(self):
        return self.stdout + self.stderr

    def recap(self):
        """{host: {ok, changed, unreachable, failed}} from the PLAY RECAP."""
        return {m.group(1): dict(ok=int(m.group(2)), changed=int(m.group(3)),
                                 unreachable=int(m.group(4)), failed=int(m.group(5)))
                for m in RECAP_RE.finditer(self.stdout)}

    def changed(self):
        return sum(host['changed'] for host in self.recap().values())

    def check(self):
        assert self.rc == 0, 'command %s failed (rc %s):\n%s' % (' '.join(self.argv), self.rc, self.output[-6000:])
        return self


def _env(extra=None):
    env = dict(os.environ)
    env.setdefault('ANSIBLE_COLLECTIONS_PATH', os.path.join(REPO, '.collections'))
    env.update(ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0', ANSIBLE_RETRY_FILES_ENABLED='0',
               ANSIBLE_HOST_KEY_CHECKING='1', ANSIBLE_LOCALHOST_WARNING='0',
               ANSIBLE_INVENTORY_UNPARSED_WARNING='0', ANSIBLE_PYTHON_INTERPRETER='auto_silent')
    env.update(extra or {})
    return env


def run(argv, env=None, timeout=900, cwd=None):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          env=_env(env), timeout=timeout, cwd=cwd, check=False)
    return Run(argv, proc)


def playbook(name, extra_vars, *args, **kwargs):
    """ansible-playbook lago.lago.<name> (or a path) with -e JSON."""
    target = name if os.path.sep in name else 'lago.lago.%s' % name
    return run(['ansible-playbook', target, '-e', json.dumps(extra_vars)] + list(args), **kwargs)


def user_dir_with_demo(parent):
    """``<parent>/mylab``: a directory of the user's own holding the demo init file (examples/demo)."""
    work = os.path.join(str(parent), 'mylab')
    os.makedirs(work)
    demo = os.path.join(REPO, 'examples', 'demo')
    for name in os.listdir(demo):
        shutil.copy2(os.path.join(demo, name), os.path.join(work, name))
    return work


def plain(value):
    """ansible-inventory --list shows untrusted strings as {"__ansible_unsafe": s}: the string."""
    if isinstance(value, dict) and set(value) == {'__ansible_unsafe'}:
        return value['__ansible_unsafe']
    return value
