# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: user_path
short_description: A path the user gave, resolved against the directory ansible-playbook was started from
version_added: 0.1.0
author:
  - Lago developers (@lago-project)
description:
  - Modules run on the local connection with the B(playbook's) directory as their working
    directory, so a relative path handed to a module as it is would be read from inside
    the collection. This filter turns a path the user gave (on the command line, in C(-e @file),
    in their own playbook's variables) into the path the user meant - the one relative to the
    directory C(ansible-playbook) (or C(ansible)) was started from.
  - C(~) and C(~user) and environment variables (C($HOME/lab)) are expanded, as Ansible's
    C(path) options do.
  - A relative path is joined to the controller's working directory and normalized
    (C(./lab/) becomes C(<cwd>/lab)).
  - An absolute path, a URL (C(scheme://...), for example an C(https://) template repository)
    and the empty string (an optional path left unset) pass unchanged.
  - A list is resolved item by item.
  - The playbooks and the C(reposetup), C(deploy) and C(collect) roles of the collection
    pass every path a user gives them through this filter; a task file of your own can do
    the same for the paths it hands to modules.
options:
  _input:
    description: A path, or a list of paths.
    type: raw
    required: true
seealso:
  - plugin: ansible.builtin.expanduser
    plugin_type: filter
  - plugin: ansible.builtin.realpath
    plugin_type: filter
'''

EXAMPLES = r'''
- name: Create the prefix named by the user (relative to where they ran ansible-playbook)
  lago.lago.lago_prefix:
    path: "{{ lago_prefix_path | lago.lago.user_path }}"
    init_file: "{{ lago_init_file | lago.lago.user_path }}"
    template_repo: "{{ lago_template_repo | lago.lago.user_path or omit }}"

- name: Write a file next to the user's init file
  ansible.builtin.copy:
    content: "done\n"
    dest: "{{ 'tests-ran' | lago.lago.user_path }}"
    mode: "0644"
'''

RETURN = r'''
_value:
  description: The absolute path (or the URL, or the empty string); a list for a list.
  type: raw
'''

import os
import re

from ansible.errors import AnsibleFilterError

URL_RE = re.compile(r'^[A-Za-z][A-Za-z0-9+.-]*://')


def resolve(path, cwd):
    """``path`` as the user meant it when they were in ``cwd``."""
    if not isinstance(path, str):
        raise AnsibleFilterError('lago.lago.user_path: expected a path or a list of paths, got %s %r'
                                 % (type(path).__name__, path))
    if not path or URL_RE.match(path):
        return path
    path = os.path.expanduser(os.path.expandvars(path))
    if os.path.isabs(path):
        return path
    return os.path.normpath(os.path.join(cwd, path))


def user_path(value):
    # Filters run in the controller's processes, whose working directory is the
    # one ansible-playbook was started from (only modules are moved elsewhere).
    cwd = os.getcwd()
    if isinstance(value, (list, tuple)):
        return [resolve(item, cwd) for item in value]
    return resolve(value, cwd)


class FilterModule(object):

    def filters(self):
        return {'user_path': user_path}
