# -*- coding: utf-8 -*-
"""Helpers of the lab tests: run a module for real through ``ansible-playbook``; for
the prefix and flow tests, one lease directory and template store for the session
(as on a real host), and init files written per test."""

from __future__ import absolute_import, division, print_function

import json
import os
import shutil
import subprocess
import tempfile
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_module(module, args, check=False, diff=False, timeout=300):
    """Run ``module`` with ``args`` (a dict) as one task on localhost; its registered result.

    A playbook rather than ad-hoc ``ansible``: only a registered result keeps
    the ``diff`` the module returned.
    """
    with tempfile.TemporaryDirectory(prefix='lago-run-') as scratch:
        out = os.path.join(scratch, 'result.json')
        play = [dict(hosts='localhost', gather_facts=False, tasks=[
            {module: args, 'register': 'result', 'ignore_errors': True,
             'check_mode': check, 'diff': diff},
            {'ansible.builtin.copy': dict(content='{{ result | to_json }}', dest=out),
             'check_mode': False, 'diff': False},
        ])]
        playbook = os.path.join(scratch, 'play.yml')
        with open(playbook, 'w') as handle:
            json.dump(play, handle)  # JSON is YAML
        env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING='false',
                   ANSIBLE_INVENTORY_UNPARSED_WARNING='false')
        proc = subprocess.run(['ansible-playbook', playbook], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=timeout, check=False)
        if not os.path.exists(out):
            raise AssertionError('ansible-playbook gave no result (rc %s): %s %s'
                                 % (proc.returncode, proc.stdout, proc.stderr))
        with open(out) as handle:
            return json.load(handle)


@pytest.fixture
def ansible_module():
    return run_module


@pytest.fixture(scope='session')
def lab_host_dirs(tmp_path_factory):
    base = tmp_path_factory.mktemp('lago-host')
    dirs = dict(lease_dir=str(base / 'subnets'), template_store=str(base / 'store'))
    yield dirs
    shutil.rmtree(str(base), ignore_errors=True)


@pytest.fixture
def prefix_vars(lab_host_dirs, lab_template_repo, tmp_path):
    """Extra vars for the verb playbooks, one prefix per test."""
    return dict(lago_prefix_path=str(tmp_path / 'prefix'), lago_template_repo=lab_template_repo,
                lago_template_store=lab_host_dirs['template_store'], lago_lease_dir=lab_host_dirs['lease_dir'],
                lago_virt_type='qemu')


@pytest.fixture(scope='session')
def hypervisors():
    """``(inventory path, {name: underlay address})`` of the lab's hypervisors (at least two)."""
    from lablib import lab_hypervisors
    inventory, hosts = lab_hypervisors()
    assert len(hosts) >= 2, 'the multi-host tests need two hypervisors: %s' % hosts
    return inventory, hosts


@pytest.fixture
def write_init_file(tmp_path):
    def write(text, name='LagoInitFile'):
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return str(path)
    return write
