# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one rollback helper: a last-in-first-out undo list.

Each step that makes something registers how to take it back; when the block
fails (any exception, Ctrl-C and SIGTERM included) the undos run newest first,
so a failed run leaves nothing behind. ``commit()`` keeps what was made.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class Rollback(object):
    """``with Rollback() as undo: make(); undo.push('thing', remove) ...; undo.commit()``"""

    def __init__(self):
        self._undo = []
        self.failures = []

    def push(self, what, undo):
        """Register ``undo()`` for the thing just made, described by ``what``."""
        self._undo.append((what, undo))

    def commit(self):
        """What was made stays: forget every undo registered so far."""
        self._undo = []

    @property
    def pending(self):
        return [what for what, _undo in self._undo]

    def run(self):
        """Undo everything registered, newest first; an undo that fails is recorded, the rest still run."""
        while self._undo:
            what, undo = self._undo.pop()
            try:
                undo()
            except Exception as err:  # pylint: disable=broad-except
                self.failures.append('%s: %s' % (what, err))
        return self.failures

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, _tb):
        if exc_type is not None:
            self.run()
            if self.failures and exc is not None and not hasattr(exc, 'rollback_failures'):
                exc.rollback_failures = list(self.failures)
        return False
