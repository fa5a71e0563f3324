# -*- coding: utf-8 -*-
"""rollback: the last-in-first-out undo list."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.lago.lago.plugins.module_utils.rollback import Rollback


def test_undoes_newest_first_on_failure_and_keeps_going():
    done = []

    def broken():
        raise OSError('disk gone')

    with pytest.raises(ValueError) as caught:
        with Rollback() as undo:
            undo.push('lease', lambda: done.append('lease'))
            undo.push('disk', broken)
            undo.push('network', lambda: done.append('network'))
            raise ValueError('step failed')
    assert done == ['network', 'lease']
    assert caught.value.rollback_failures == ['disk: disk gone']


def test_interrupts_roll_back_too():
    done = []
    with pytest.raises(KeyboardInterrupt):
        with Rollback() as undo:
            undo.push('lease', lambda: done.append('lease'))
            raise KeyboardInterrupt()
    assert done == ['lease']


def test_commit_keeps_what_was_made():
    done = []
    with Rollback() as undo:
        undo.push('lease', lambda: done.append('lease'))
        undo.commit()
        assert undo.pending == []
    assert done == []
