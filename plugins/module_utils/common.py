# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Glue shared by the modules. It never imports AnsibleModule: it takes one."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import platform
import sys
import traceback

from ansible_collections.lago.lago.plugins.module_utils.errors import LagoError

DEFAULT_TEMPLATE_STORE = '/var/lib/lago/store'
DEFAULT_LEASE_DIR = '/var/lib/lago/subnets'

# Option specs shared by the modules (documented in doc_fragments/lago.py).
LIBVIRT_ARGS = dict(
    libvirt_uri=dict(type='str', default='qemu:///system'),
)
TEMPLATE_ARGS = dict(
    template_repo=dict(type='str'),
    template_store=dict(type='path', default=DEFAULT_TEMPLATE_STORE),
)
LEASE_ARGS = dict(
    lease_dir=dict(type='path', default=DEFAULT_LEASE_DIR),
)


# Every module of the action group lago accepts these, so that
# module_defaults: {group/lago.lago.lago: {...}} can set them once.
GROUP_ARGS = dict(LIBVIRT_ARGS, template_store=TEMPLATE_ARGS['template_store'], **LEASE_ARGS)


def new_module(module_class, **kwargs):
    """``module_class(**kwargs)`` with the group's shared options added where a module lacks them.

    Takes the class (AnsibleModule) from the module: this file never imports it.
    """
    argument_spec = dict(kwargs.pop('argument_spec'))
    for name, spec in GROUP_ARGS.items():
        argument_spec.setdefault(name, dict(spec))
    return module_class(argument_spec=argument_spec, **kwargs)


def missing_libraries(*names):
    """Which of the Python libraries ``names`` (libvirt-python, lxml, PyYAML) cannot be imported."""
    probes = {'libvirt-python': 'libvirt', 'lxml': 'lxml', 'PyYAML': 'yaml'}
    missing = []
    for name in names:
        try:
            __import__(probes[name])
        except ImportError:
            missing.append(name)
    return missing


def require_libraries(module, *names):
    """fail_json naming the missing libraries, as ansible's missing_required_lib does."""
    missing = missing_libraries(*names)
    if missing:
        module.fail_json(msg='Failed to import the required Python libraries (%s) on %s\'s Python %s. '
                             'Install them (pip install %s) or set ansible_python_interpreter to a '
                             'Python that has them.' % (', '.join(missing), platform.node(), sys.executable,
                                                        ' '.join(missing)))


@contextlib.contextmanager
def lago_errors(module):
    """Turn a LagoError raised inside the block into fail_json with its message."""
    try:
        yield
    except LagoError as err:
        module.fail_json(msg=str(err), exception=traceback.format_exc())


def diff_of(before, after):
    """An Ansible diff dict; before/after are dicts or strings."""
    return dict(before=before, after=after)
