# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one exception hierarchy of the lago engine.

The module runtime (``_runtime.run_module``) turns any LagoError into
``fail_json(msg=str(err))`` in one place, after the rollback has run;
everything else is a bug and shows its traceback.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class LagoError(Exception):
    """Base of every error the engine raises on purpose."""


class SpecError(LagoError):
    """An init file or an option is wrong; the message names the key."""


class LockTimeout(LagoError):
    """A file lock could not be taken in time."""


class CommandError(LagoError):
    """An external command (qemu-img, ssh, ...) failed.

    ``argv``, ``rc`` and ``stderr`` are kept so callers can add context.
    """

    def __init__(self, argv, rc, stdout, stderr):
        self.argv = list(argv)
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        detail = (stderr or stdout or '').strip()
        super(CommandError, self).__init__(
            '%s failed (exit %s): %s' % (self.argv[0], rc, detail or 'no output'))


class LeaseError(LagoError):
    """Subnet leasing failed (pool exhausted, subnet taken, ...)."""


class TemplateError(LagoError):
    """A template repository, provider or store problem."""


class TransferError(TemplateError):
    """A download failure that may pass if tried again: a broken connection or an HTTP 5xx."""


class DiskError(LagoError):
    """A disk image could not be created, inspected or changed."""


class NetworkError(LagoError):
    """A libvirt network could not be built or changed."""


class DomainError(LagoError):
    """A libvirt domain could not be built or changed."""


class PrefixError(LagoError):
    """A prefix is missing, inconsistent, or a lifecycle step failed."""


class PrefixBusy(PrefixError):
    """Another process holds the prefix's lock; the message names it."""


class PrefixDamaged(PrefixError):
    """The prefix's state.json cannot be read (truncated, garbage): only destroy can take it apart."""


class PrefixGone(PrefixError):
    """The prefix was removed by another run while this one waited for its lock."""


class Interrupted(BaseException):
    """The run got SIGTERM/SIGHUP: like KeyboardInterrupt, it unwinds (and rolls back) every step."""


class SnapshotError(LagoError):
    """A snapshot or state-pool operation failed."""


class RepoError(LagoError):
    """The internal package repository could not be built or served."""


class JumpError(LagoError):
    """The hypervisor through which the controller reaches a VM (an SSH jump host) cannot be
    reached or is refused; the message names the hypervisor and its address."""


class JumpRefused(JumpError):
    """The jump host's host key is unknown or not the recorded one: refused, never learnt."""
