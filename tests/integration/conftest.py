# -*- coding: utf-8 -*-
"""Helpers of the lab tests: run a module for real through ``ansible-playbook``."""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import tempfile

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
