# -*- coding: utf-8 -*-
"""Fixtures for unit tests of plugins.

Modules: a ModuleRun over a stand-in for AnsibleModule. A module's ``execute(run)``
is driven with ``make_run(check_mode=..., diff=..., **params)`` and its result read
with ``run.result(values)`` (changed, diff), exactly as run_module does.

The inventory plugin and the lago_hosts lookup: ``inventory`` runs ansible-inventory
on a configuration, ``lago_hosts`` runs a play that queries the lookup, both against
this working tree as the collection lago.lago; ``two_vm_prefix`` is a synthetic prefix.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import sys

import pytest
import yaml

from ansible_collections.lago.lago.plugins.module_utils import _runtime
from ansible_collections.lago.lago.tests.unit.plugins.synthetic_prefix import make_two_vm_prefix, trusted

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ANSIBLE_BIN = os.path.dirname(sys.executable)


class FakeModule(object):
    """What ModuleRun reads of an AnsibleModule."""

    def __init__(self, check_mode=False, diff=False, module_name='lago_test', **params):
        self.params = dict(params)
        self.check_mode = check_mode
        self._diff = diff
        self._name = module_name  # not ``name``: many modules have an option of that name
        self.warnings = []

    def warn(self, message):
        self.warnings.append(message)


@pytest.fixture
def make_run():
    def make(check_mode=False, diff=False, **params):
        params.setdefault('lock_timeout', 5.0)
        return _runtime.ModuleRun(FakeModule(check_mode=check_mode, diff=diff, **params))
    return make


# --- the inventory plugin and the lago_hosts lookup ---------------------------

@pytest.fixture
def two_vm_prefix(tmp_path):
    """prefix 'lab': vm01 (engine, on lan+storage), vm02 (host, on lan)."""
    return make_two_vm_prefix(str(tmp_path / 'lab'))


@pytest.fixture(scope='session')
def collections_path(tmp_path_factory):
    """A collections path holding this working tree as lago.lago."""
    root = tmp_path_factory.mktemp('collections')
    namespace = root / 'ansible_collections' / 'lago'
    namespace.mkdir(parents=True)
    os.symlink(REPO, str(namespace / 'lago'))
    return str(root)


@pytest.fixture
def inventory(tmp_path, collections_path):
    """run(config) -> (rc, parsed --list output or None, stderr)."""
    workdir = tmp_path / 'ansible'
    workdir.mkdir()
    (workdir / 'ansible.cfg').write_text('[defaults]\n')  # no user or system config leaks in

    def run(config, name='lab.lago.yml', directory=None, extra_args=(), env=None):
        config_path = os.path.join(str(directory or tmp_path), name)
        with open(config_path, 'w') as handle:
            yaml.safe_dump(dict({'plugin': 'lago.lago.lago'}, **config), handle)
        full_env = dict(os.environ)
        full_env.update({
            'ANSIBLE_COLLECTIONS_PATH': collections_path,
            'ANSIBLE_INVENTORY_ENABLED': 'lago.lago.lago',
            # A source that fails to parse fails the command, with the plugin's message.
            'ANSIBLE_INVENTORY_UNPARSED_FAILED': 'true',
            'ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED': 'true',
            'ANSIBLE_LOCAL_TEMP': str(workdir),
            'ANSIBLE_CONFIG': str(workdir / 'ansible.cfg'),
            'ANSIBLE_NOCOLOR': '1',
            'ANSIBLE_FORCE_COLOR': '0',
        })
        full_env.update(env or {})
        proc = subprocess.run([os.path.join(ANSIBLE_BIN, 'ansible-inventory'), '-i', config_path, '--list'] + list(extra_args),
                              cwd=str(workdir), env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=120, check=False)
        listing = json.loads(proc.stdout, object_hook=trusted) if proc.returncode == 0 else None
        return proc.returncode, listing, ' '.join(proc.stderr.split())
    return run


@pytest.fixture
def lago_hosts(tmp_path, collections_path):
    """run(terms, **options) -> (rc, query('lago.lago.lago_hosts', ...) or None, output)."""
    workdir = tmp_path / 'lookup'
    workdir.mkdir()
    (workdir / 'ansible.cfg').write_text('[defaults]\n')
    out = workdir / 'hosts.json'

    def run(terms, **options):
        play = [dict(hosts='localhost', gather_facts=False, tasks=[
            {'ansible.builtin.copy': dict(content='{{ hosts | to_json }}', dest=str(out)),
             'vars': {'hosts': "{{ query('lago.lago.lago_hosts', *terms, **options) }}",
                      'terms': terms, 'options': options}}])]
        (workdir / 'play.yml').write_text(json.dumps(play))
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path, ANSIBLE_CONFIG=str(workdir / 'ansible.cfg'),
                   ANSIBLE_LOCAL_TEMP=str(workdir), ANSIBLE_NOCOLOR='1', ANSIBLE_LOCALHOST_WARNING='false',
                   ANSIBLE_INVENTORY_UNPARSED_WARNING='false')
        proc = subprocess.run([os.path.join(ANSIBLE_BIN, 'ansible-playbook'), 'play.yml'],
                              cwd=str(workdir), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=120, check=False)
        result = json.loads(out.read_text()) if proc.returncode == 0 else None
        return proc.returncode, result, ' '.join((proc.stdout + proc.stderr).split())
    return run
