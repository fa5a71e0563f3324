# -*- coding: utf-8 -*-
"""_runtime: the difference tracker, secrets, and check mode from the same plan as the real run."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.lago.lago.plugins.module_utils import _runtime
from ansible_collections.lago.lago.plugins.module_utils.plan import Plan


def _plan(applied):
    def apply():
        applied.append('done')
        return dict(after={'size': 20}, path='/x')
    return Plan('disk', {'size': 10}, {'size': 20}, steps=['grow'], apply=apply, values=dict(action='grown'))


@pytest.mark.parametrize('check_mode', [True, False])
def test_check_mode_and_real_run_share_the_plan(make_run, check_mode):
    applied = []
    run = make_run(check_mode=check_mode, diff=True)
    values = run.carry_out(_plan(applied))
    result = run.result(values)
    assert applied == ([] if check_mode else ['done'])
    assert result['changed'] is True
    assert result['action'] == 'grown'
    assert result['diff'] == dict(before={'disk': {'size': 10}}, after={'disk': {'size': 20}})


def test_no_steps_no_change_and_no_diff_without_diff_mode(make_run):
    run = make_run()
    run.carry_out(Plan('disk', {'size': 10}, {'size': 10}, apply=lambda: pytest.fail('applied')))
    result = run.result({'diff': {'stale': 1}})
    assert result == dict(changed=False)


def test_changed_can_be_forced_when_views_are_equal(make_run):
    run = make_run(diff=True)
    run.track('vm01', 'running', 'running', changed=True)
    assert run.result({})['changed'] is True


def test_secrets_are_masked_in_results_and_diffs(make_run):
    run = make_run(diff=True)
    run.track('spec', {}, {'domains': {'vm01': {'root-password': 'hunter2', 'memory': 512}}})
    result = run.result({'spec': {'ssh-password': 'x', 'nested': [{'password': 'y'}]}})
    text = repr(result)
    assert 'hunter2' not in text and "'x'" not in text and "'y'" not in text
    assert result['diff']['after']['spec']['domains']['vm01'] == {'root-password': '********', 'memory': 512}


def test_missing_libraries_are_named():
    assert _runtime.missing_libraries('PyYAML') == []
    _runtime._IMPORT_NAMES['nothing-here'] = 'lago_no_such_module'
    try:
        assert _runtime.missing_libraries('nothing-here', 'PyYAML') == ['nothing-here']
    finally:
        del _runtime._IMPORT_NAMES['nothing-here']
