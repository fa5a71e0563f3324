# -*- coding: utf-8 -*-
"""Fixtures for unit tests of modules: a ModuleRun over a stand-in for AnsibleModule.

A module's ``execute(run)`` is driven with ``make_run(check_mode=..., diff=..., **params)``
and its result read with ``run.result(values)`` (changed, diff), exactly as run_module does.
"""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.lago.lago.plugins.module_utils import _runtime


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
