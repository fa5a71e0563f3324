# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module runtime of lago.lago. Private to the collection: not an API for other collections.

This is the only file under plugins/ that imports AnsibleModule. A module is
its argument spec, its docs and a few lines of glue::

    def execute(run):
        with run.open_prefix(run.params['path']) as state:
            return run.carry_out(engine.plan_something(state, ...))

    def main():
        run_module(ARGUMENT_SPEC, execute, libraries=('libvirt-python',))

``run_module`` adds the action group's shared options, checks the Python
libraries, turns any LagoError into ``fail_json`` (after the engine's
rollback has run: the error unwinds through it first), and builds the result:
``changed`` from the difference tracker, ``diff`` only under ``--diff``, with
secrets masked.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import copy
import platform
import signal
import sys
import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lago.lago.plugins.module_utils import prefix_state
from ansible_collections.lago.lago.plugins.module_utils.errors import Interrupted, LagoError
from ansible_collections.lago.lago.plugins.module_utils.subnet_lease import DEFAULT_LEASE_DIR

DEFAULT_TEMPLATE_STORE = '/var/lib/lago/store'

# Option specs shared by the modules (documented in doc_fragments/lago.py).
LIBVIRT_ARGS = dict(libvirt_uri=dict(type='str', default='qemu:///system'))
TEMPLATE_ARGS = dict(
    template_repo=dict(type='str'),
    template_store=dict(type='path', default=DEFAULT_TEMPLATE_STORE),
)
LEASE_ARGS = dict(lease_dir=dict(type='path', default=DEFAULT_LEASE_DIR))
LOCK_ARGS = dict(lock_timeout=dict(type='float', default=prefix_state.DEFAULT_LOCK_TIMEOUT))

# Every module of the action group lago accepts these, so that
# module_defaults: {group/lago.lago.lago: {...}} can set them once.
GROUP_ARGS = dict(LIBVIRT_ARGS, template_store=TEMPLATE_ARGS['template_store'], **LEASE_ARGS)

# Keys whose values never appear in a diff or a result.
SECRET_KEYS = frozenset(('root-password', 'ssh-password', 'root_password', 'ssh_password', 'password'))
MASK = '********'

_IMPORT_NAMES = {'libvirt-python': 'libvirt', 'lxml': 'lxml', 'PyYAML': 'yaml', 'paramiko': 'paramiko'}


def secret_values(value):
    """The values of secret keys inside ``value`` (a module's parameters), at any depth."""
    found = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key in SECRET_KEYS and isinstance(item, (str, int, float)) and not isinstance(item, bool):
                found.add(str(item))
            else:
                found |= secret_values(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            found |= secret_values(item)
    return found


class _Module(AnsibleModule):
    """AnsibleModule whose log of the invocation and whose results (``invocation`` included)
    hide the secrets inside dict options (a ``spec``'s root-password), as for no_log options."""

    def _log_invocation(self):
        self.no_log_values.update(secret_values(self.params))
        super(_Module, self)._log_invocation()


def missing_libraries(*names):
    """Which of the Python libraries ``names`` (libvirt-python, lxml, PyYAML, paramiko) cannot be imported."""
    missing = []
    for name in names:
        try:
            __import__(_IMPORT_NAMES[name])
        except ImportError:
            missing.append(name)
    return missing


def missing_libraries_message(missing):
    """What to say when the Python libraries ``missing`` cannot be imported (as missing_required_lib does)."""
    return ('Failed to import the required Python libraries (%s) on %s\'s Python %s. Install them '
            '(pip install %s) or set ansible_python_interpreter to a Python that has them.'
            % (', '.join(missing), platform.node(), sys.executable, ' '.join(missing)))


def redact(value):
    """A copy of ``value`` with the values of secret keys masked, at any depth."""
    if isinstance(value, dict):
        return dict((key, MASK if key in SECRET_KEYS and item is not None else redact(item))
                    for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [redact(item) for item in value]
    return value


class DifferenceTracker(object):
    """The one diff vocabulary: named items, each with a before, an after and whether it changed."""

    def __init__(self):
        self._items = []

    def add(self, name, before, after, changed=None):
        """Record item ``name``; ``changed`` defaults to before != after (give it when the
        change is not visible in the views, e.g. a revert to the same state)."""
        if changed is None:
            changed = before != after
        self._items.append(dict(name=name, before=copy.deepcopy(before), after=copy.deepcopy(after),
                                changed=bool(changed)))

    def has_changed(self):
        return any(item['changed'] for item in self._items)

    @property
    def changed_names(self):
        return [item['name'] for item in self._items if item['changed']]

    def _side(self, side):
        return dict((item['name'], item[side]) for item in self._items)

    def get_before(self):
        return self._side('before')

    def get_after(self):
        return self._side('after')

    def diff(self):
        """An Ansible diff: before/after of every item, secrets masked."""
        return dict(before=redact(self.get_before()), after=redact(self.get_after()))


class ModuleRun(object):
    """One run of a module: its parameters, check mode, its difference tracker and warnings."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.check_mode = module.check_mode
        self.diff_mode = module._diff
        self.tracker = DifferenceTracker()

    def warn(self, message):
        self.module.warn(message)

    @contextlib.contextmanager
    def open_prefix(self, path, must_exist=True):
        """The prefix at ``path`` (a PrefixState) under its lock.

        Check mode on a prefix that does not exist takes no lock and makes
        nothing: the block sees a new, unsaved state and predicts.
        """
        layout = prefix_state.Layout(path)
        locked = not (self.check_mode and not layout.initialized)
        timeout = self.params.get('lock_timeout')
        if timeout is None:  # a module without the option; 0 means "do not wait"
            timeout = prefix_state.DEFAULT_LOCK_TIMEOUT
        with prefix_state.open_prefix(path, locked=locked, must_exist=must_exist, timeout=timeout,
                                      what=self.module._name) as state:
            yield state

    def track(self, name, before, after, changed=None):
        self.tracker.add(name, before, after, changed)

    def carry_out(self, plan):
        """Check mode: the plan's prediction. Otherwise: the plan applied.

        Either way the tracker records the plan's before and its after (the
        real one when apply() returns it), and changed is the plan's own.
        Returns the result values of the plan.
        """
        values = dict(plan.values)
        after = plan.after
        if plan.changed and not self.check_mode:
            applied = dict(plan.apply())
            after = applied.pop('after', after)
            values.update(applied)
        self.tracker.add(plan.name, plan.before, after, changed=plan.changed)
        return values

    def result(self, values):
        result = redact(dict(values or {}))
        result.pop('diff', None)
        result['changed'] = self.tracker.has_changed()
        if self.diff_mode:
            result['diff'] = self.tracker.diff()
        return result


def _interrupt(signum, _frame):
    raise Interrupted('interrupted by signal %d' % signum)


def _fail_message(err):
    message = str(err)
    failures = getattr(err, 'rollback_failures', None)
    if failures:
        message += ' (and the rollback could not undo: %s)' % '; '.join(failures)
    return message


def run_module(argument_spec, execute, libraries=(), group=True, **module_kwargs):
    """Build the AnsibleModule, run ``execute(run)`` and exit with its result.

    ``execute`` returns the module's result values (without changed/diff).
    With ``group`` the action group's shared options are added where the
    module lacks them (document them with the lago.lago.lago.group_* fragments).
    """
    spec = dict(argument_spec)
    if group:
        for name, option in GROUP_ARGS.items():
            spec.setdefault(name, dict(option))
    module_kwargs.setdefault('supports_check_mode', True)
    module = _Module(argument_spec=spec, **module_kwargs)
    missing = missing_libraries(*libraries)
    if missing:
        module.fail_json(msg=missing_libraries_message(missing))
    # SIGTERM/SIGHUP unwind like Ctrl-C, so every rollback on the way runs.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    run = ModuleRun(module)
    try:
        values = execute(run)
    except LagoError as err:
        module.fail_json(msg=_fail_message(err), exception=traceback.format_exc())
    except (KeyboardInterrupt, Interrupted) as err:
        module.fail_json(msg='%s: %s; what this run had made was rolled back'
                             % (module._name, str(err) or 'interrupted'), exception=traceback.format_exc())
    module.exit_json(**run.result(values))
