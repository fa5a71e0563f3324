# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What changed between two normalized specs (spec_normalize), for the prefix
module to decide what it can apply to an existing prefix."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


def _changed_keys(old, new):
    return sorted(key for key in set(old) | set(new) if old.get(key) != new.get(key))


def _named_diff(old, new, detail):
    """Added, removed and changed entries of two {name: spec} mappings."""
    return {
        'added': sorted(set(new) - set(old)),
        'removed': sorted(set(old) - set(new)),
        'changed': dict((name, detail(old[name], new[name]))
                        for name in sorted(set(old) & set(new)) if old[name] != new[name]),
    }


def _vm_diff(old, new):
    disks = _named_diff(dict((disk['name'], disk) for disk in old.get('disks', [])),
                        dict((disk['name'], disk) for disk in new.get('disks', [])),
                        _changed_keys)
    return {'keys': _changed_keys(old, new), 'disks': disks}


def spec_diff(old, new):
    """What changed from spec ``old`` (None: nothing yet) to spec ``new``.

    Returns {'changed': bool,
             'vms':  {'added': [...], 'removed': [...],
                      'changed': {vm: {'keys': [...], 'disks': {'added', 'removed', 'changed': {disk: [keys]}}}}},
             'nets': {'added': [...], 'removed': [...], 'changed': {net: [keys]}}}
    with every list sorted, for the prefix module to decide what it can apply.
    """
    old = old or {'domains': {}, 'nets': {}}
    vms = _named_diff(old['domains'], new['domains'], _vm_diff)
    nets = _named_diff(old['nets'], new['nets'], _changed_keys)
    changed = any(section[part] for section in (vms, nets) for part in ('added', 'removed', 'changed'))
    return {'changed': changed, 'vms': vms, 'nets': nets}
