# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The generic checks of init-file values (types, keys, plain data), and the
collector that lets the validator report every problem of a file at once.

A check raises SpecError whose message starts with the key's place
(``domains.vm01.memory: must be an integer, not 'lots'``). A check made of
several independent parts gathers their problems in a Problems and raises
them together; its caller, in turn, records them and goes on with the rest.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import difflib

from ansible_collections.lago.lago.plugins.module_utils.errors import SpecError
from ansible_collections.lago.lago.plugins.module_utils.values import fail

MAX_NESTING = 64

_RUNTIME_STATE = "is Lago's run-time state, not part of an init file"
# Keys Lago knew that this collection refuses, with the reason.
REJECTED_KEYS = {
    'domain': {
        'type': "Lago's OVA import (type: ova) is not supported",
        'url': "Lago's OVA import (url) is not supported",
        'service_class': 'was deprecated by Lago; use service_provider',
        'snapshots': _RUNTIME_STATE,
        'mgmt_net': _RUNTIME_STATE + ' (the management net is chosen from nets)',
        'ssh-password': ("was Lago's password for SSH logins; lago.lago logs in with the prefix's SSH key "
                         "(id_rsa) and the VMs take no password SSH logins: set root-password for a "
                         "console password"),
    },
    'nic': {
        'mtu': 'set mtu on the net, not on the NIC',
    },
    'disk': {
        'build': "Lago's build step (virt-customize) is not supported; use metadata.deploy-scripts",
        'url': 'downloading disks is not supported; give a local path',
        'skip-export': "Lago's export is not supported",
    },
    'net': {
        'main_dns': 'is not supported; DNS is served on the management net',
        'mapping': _RUNTIME_STATE,
        'dns_records': _RUNTIME_STATE,
        'dns_forward': _RUNTIME_STATE,
    },
}


def problems_of(err):
    """The problems a SpecError reports: a Problems' list, else its message."""
    return list(getattr(err, 'problems', None) or [str(err)])


def spec_error(problems, prefix=''):
    """One SpecError listing ``problems`` ('; ' between them), each after ``prefix``."""
    if len(problems) == 1:
        message = prefix + problems[0]
    else:
        message = '%s%d problems: %s' % (prefix, len(problems), '; '.join(problems))
    err = SpecError(message)
    err.problems = list(problems)
    return err


class Problems(object):
    """The problems found so far, in the order found, each once."""

    def __init__(self):
        self.found = []

    def add(self, err):
        for problem in problems_of(err):
            if problem not in self.found:
                self.found.append(problem)

    def check(self, func, *args, **kwargs):
        """``func(*args, **kwargs)``, or None when it raised SpecError (its problems are recorded)."""
        try:
            return func(*args, **kwargs)
        except SpecError as err:
            self.add(err)
            return None

    def raise_found(self):
        if self.found:
            raise spec_error(self.found)


def type_name(value):
    names = {dict: 'mapping', list: 'list', str: 'string', bool: 'boolean', int: 'integer', float: 'number',
             type(None): 'null'}
    return names.get(type(value), type(value).__name__)


def mapping(value, place):
    """A mapping with string keys; a key written without a value (YAML ``key:``) means "not set"."""
    if not isinstance(value, dict):
        fail(place, 'must be a mapping, not a %s' % type_name(value))
    for key in value:
        if not isinstance(key, str):
            fail(place, 'keys must be strings, not %s %r' % (type_name(key), key))
    return dict((key, item) for key, item in value.items() if item is not None)


def check_keys(raw, place, known, kind):
    """Every key of ``raw`` not in ``known`` is a problem: refused with Lago's reason, or unknown."""
    problems = Problems()
    for key in sorted(raw):
        if key in known:
            continue
        reason = REJECTED_KEYS.get(kind, {}).get(key)
        if not reason:
            close = difflib.get_close_matches(key, known, n=1)
            reason = 'unknown key' + (" (did you mean '%s'?)" % close[0] if close else '')
        problems.check(fail, '%s.%s' % (place, key), reason)
    problems.raise_found()


def check_own_name(raw, name, place):
    # Lago's own dumps carry the name inside; harmless when it agrees.
    if 'name' in raw and raw['name'] != name:
        fail(place + '.name', '%r differs from the key %r' % (raw['name'], name))


def integer(value, place, low=None, high=None):
    """An int; digit strings ("1024") count too, as Lago passed them through."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        fail(place, 'must be an integer, not %r' % (value,))
    if low is not None and value < low or high is not None and value > high:
        bounds = 'at least %s' % low if high is None else 'between %s and %s' % (low, high)
        fail(place, 'must be %s, not %d' % (bounds, value))
    return value


def text(value, place, numbers=False):
    """A non-empty string; with ``numbers``, YAML numbers (123456) are turned into text."""
    if numbers and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        fail(place, 'must be a non-empty string, not %r' % (value,))
    return value


def boolean(value, place):
    if not isinstance(value, bool):
        fail(place, 'must be true or false, not %r' % (value,))
    return value


def text_list(value, place, single=False):
    if single and isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        fail(place, 'must be a list%s, not a %s' % (' or a string' if single else '', type_name(value)))
    problems = Problems()
    items = [problems.check(text, item, '%s[%d]' % (place, index)) for index, item in enumerate(value)]
    problems.raise_found()
    return items


def required_list(value, place, why, what):
    if value is None:
        fail(place, why)
    if not isinstance(value, list) or not value:
        fail(place, 'must be a non-empty list of %s, not %r' % (what, value))
    return value


def plain(value, place, depth=0):
    """A deep copy of ``value`` made of JSON types only (free-form metadata)."""
    if depth > MAX_NESTING:
        fail(place, 'nested too deeply (a recursive YAML alias?)')
    if isinstance(value, dict):
        return dict((key, plain(item, '%s.%s' % (place, key), depth + 1))
                    for key, item in mapping(value, place).items())
    if isinstance(value, list):
        return [plain(item, '%s[%d]' % (place, index), depth + 1) for index, item in enumerate(value)]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    fail(place, 'must be plain data (string, number, boolean, list, mapping), not %s %r'
         % (type(value).__name__, value))


def plain_mapping(value, place):
    """A mapping of free-form plain data (metadata), deep-copied."""
    return plain(mapping(value, place), place)
