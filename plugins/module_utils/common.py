# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Glue of the modules not yet on the runtime (_runtime.run_module); retired with them."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import traceback

# The option specs and library checks are the runtime's; the two modules not
# yet on run_module (lago_prefix, lago_prefix_info) reach them through here.
from ansible_collections.lago.lago.plugins.module_utils._runtime import (  # noqa: F401 pylint: disable=unused-import
    GROUP_ARGS, LEASE_ARGS, LIBVIRT_ARGS, TEMPLATE_ARGS, missing_libraries, missing_libraries_message)
from ansible_collections.lago.lago.plugins.module_utils.errors import LagoError


def new_module(module_class, **kwargs):
    """``module_class(**kwargs)`` with the group's shared options added where a module lacks them.

    Takes the class (AnsibleModule) from the module: this file never imports it.
    """
    argument_spec = dict(kwargs.pop('argument_spec'))
    for name, spec in GROUP_ARGS.items():
        argument_spec.setdefault(name, dict(spec))
    return module_class(argument_spec=argument_spec, **kwargs)


def require_libraries(module, *names):
    """fail_json naming the missing libraries, as ansible's missing_required_lib does."""
    missing = missing_libraries(*names)
    if missing:
        module.fail_json(msg=missing_libraries_message(missing))


@contextlib.contextmanager
def lago_errors(module):
    """Turn a LagoError raised inside the block into fail_json with its message."""
    try:
        yield
    except LagoError as err:
        module.fail_json(msg=str(err), exception=traceback.format_exc())
