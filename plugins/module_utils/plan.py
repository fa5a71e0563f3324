# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A plan: what an engine operation would change, and how to carry it out.

Engines answer a request with a Plan; check mode returns its prediction and a
real run applies it, so the two cannot drift apart (see _runtime.ModuleRun.carry_out).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class Plan(object):
    """``name``: what the plan is about (the diff key); ``before``/``after``: plain views of
    it now and as predicted; ``steps``: what would be done, in order (no steps, no change);
    ``apply()``: carries the steps out and returns result values, optionally ``after`` (the
    view as it really is afterwards); ``values``: result values known without applying."""

    def __init__(self, name, before, after, steps=(), apply=None, values=None):
        self.name = name
        self.before = before
        self.after = after
        self.steps = list(steps)
        self._apply = apply
        self.values = dict(values or {})

    @property
    def changed(self):
        return bool(self.steps)

    def apply(self):
        if not self.steps or self._apply is None:
            return {}
        return self._apply() or {}

    def __repr__(self):
        return 'Plan(%r, steps=%r)' % (self.name, self.steps)
