# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The init file (LagoInitFile) validated and normalized.

``load_init_file`` reads the file (spec_read) and returns the normalized
spec: a plain, JSON-serializable dict with every default filled in, so that
it can be saved as ``spec.json`` and compared between runs (spec_diff).
``normalize_spec`` does the same for a dict (the module's ``spec`` option).

Every problem of the file is reported at once, each starting with the place
of the offending key (``domains.vm01.nics[1].net: unknown net 'lan2'``), in
one SpecError (its ``problems`` attribute lists them). docs/INIT_FILE.md
lists every key and what was decided for it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import os

from ansible_collections.lago.lago.plugins.module_utils.errors import SpecError
from ansible_collections.lago.lago.plugins.module_utils.spec_checks import (
    Problems, mapping, problems_of, spec_error)
from ansible_collections.lago.lago.plugins.module_utils.spec_domains import normalize_domain
from ansible_collections.lago.lago.plugins.module_utils.spec_nets import normalize_nets
from ansible_collections.lago.lago.plugins.module_utils.spec_read import TOP_KEYS, Paths, read_init_file
from ansible_collections.lago.lago.plugins.module_utils.values import fail

# Lago ignored other top-level keys; files use them to hold YAML anchors.
TOP_ANCHOR_HOLDERS = ('prototypes',)


def load_init_file(path, prefix_path=None):
    """Read, validate and normalize the init file at ``path``.

    Relative paths and $LAGO_INITFILE_PATH mean the file's directory;
    $LAGO_PREFIX_PATH means ``prefix_path``. Errors name the file.
    """
    path = os.path.abspath(path)
    raw = read_init_file(path)
    try:
        return normalize_spec(raw, base_dir=os.path.dirname(path), prefix_path=prefix_path)
    except SpecError as err:
        raise spec_error(problems_of(err), prefix='%s: ' % path)


def normalize_spec(raw, base_dir=None, prefix_path=None):
    """Validate ``raw`` (the content of an init file) and return the normalized spec.

    ``base_dir`` is the init file's directory (relative paths,
    $LAGO_INITFILE_PATH); None means the current directory. ``prefix_path``
    gives $LAGO_PREFIX_PATH. normalize_spec(normalize_spec(x)) == normalize_spec(x).
    """
    raw = mapping(raw, 'init file')
    problems = Problems()
    for key in sorted(raw):
        if key not in TOP_KEYS + TOP_ANCHOR_HOLDERS:
            problems.check(fail, key, 'unknown top-level key (the init file has domains: and nets:; a key that '
                                      'only holds shared settings must carry a YAML anchor, e.g. %s: &%s)' % (key, key))
    for key in TOP_KEYS:
        if key not in raw:
            problems.check(fail, key, 'missing: the init file needs domains: and nets:')
    nets, management = normalize_nets(raw['nets'], problems) if 'nets' in raw else (None, None)
    paths = Paths(base_dir, prefix_path)
    raw_domains = problems.check(mapping, raw['domains'], 'domains') if 'domains' in raw else None
    domains = {}
    for name in sorted(raw_domains or {}):
        domains[name] = problems.check(normalize_domain, name, raw_domains[name], 'domains.%s' % name,
                                       nets, management, paths)
    problems.check(_refuse_case_clashes, raw_domains or {})
    problems.check(_refuse_duplicate_static_ips, domains)
    problems.raise_found()
    return {'domains': domains, 'nets': nets}


def _refuse_duplicate_static_ips(domains):
    """A static address is taken once per net; its last octet identifies it (see spec_domains._static_ip)."""
    problems = Problems()
    owners = {}
    for vm_name in sorted(domains):
        for index, nic in enumerate((domains[vm_name] or {}).get('nics') or []):
            if nic['ip'] is None:
                continue
            key = (nic['net'], ipaddress.IPv4Address(nic['ip']).packed[3])
            place = 'domains.%s.nics[%d]' % (vm_name, index)
            if key in owners:
                problems.check(fail, place + '.ip', 'duplicate static IP %s on net %s: already used by %s (VMs %s and %s)'
                               % (nic['ip'], nic['net'], owners[key][0], owners[key][1], vm_name))
            else:
                owners[key] = (place, vm_name)
    problems.raise_found()


def _refuse_case_clashes(names):
    # Host names are case-insensitive: vm01 and VM01 would be one host.
    problems = Problems()
    seen = {}
    for name in sorted(names):
        if name.lower() in seen:
            problems.check(fail, 'domains.%s' % name, 'the same host name as domains.%s (host names ignore case)'
                           % seen[name.lower()])
        else:
            seen[name.lower()] = name
    problems.raise_found()
