# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: lago_hosts
short_description: The VMs of Lago prefixes as arguments of add_host
version_added: 0.1.0
author:
  - Lago developers (@lago-project)
description:
  - Reads prefixes exactly as the P(lago.lago.lago#inventory) inventory plugin does and
    returns one dictionary per VM, ready to be given to M(ansible.builtin.add_host)
    as its arguments - C(name), C(groups) and the host variables the inventory
    plugin sets (C(ansible_host), the prefix's key and C(known_hosts) with strict
    host key checking, C(lago_deploy_scripts), C(lago_artifacts), ...).
  - This makes the VMs of a prefix created earlier in the same playbook reachable
    in its later plays, without an inventory source given on the command line.
  - C(groups) holds C(lago), C(lago_<prefix>), C(lago_vm_type_<vm-type>),
    C(lago_net_<net>) and the VM's C(groups) from the init file.
    C(ansible_python_interpreter) (V(/usr/bin/python3)) is a host variable here,
    where the inventory plugin sets it on the group C(lago).
  - A path that is not an initialized prefix, a damaged C(state.json), two prefixes
    with a VM of the same name (with O(host_name=vm)) or with the same directory name
    (one C(lago_<prefix>) group) are errors that name the path or both prefixes.
options:
  _terms:
    description: Paths of initialized prefixes (directories with a C(state.json)).
    type: list
    elements: path
    required: true
  host_name:
    description:
      - How a VM's host is named, as the inventory plugin's option of that name.
      - V(vm) uses the VM's name; V(prefixed) uses C(<prefix directory name>-<vm>).
    type: str
    choices: [vm, prefixed]
    default: vm
seealso:
  - plugin: lago.lago.lago
    plugin_type: inventory
  - module: ansible.builtin.add_host
'''

EXAMPLES = r'''
- name: Add the VMs of the prefix to the inventory
  ansible.builtin.add_host: "{{ item }}"
  loop: "{{ query('lago.lago.lago_hosts', '/srv/lab') }}"
  loop_control:
    label: "{{ item.name }}"
  changed_when: false
'''

RETURN = r'''
_raw:
  description: One dictionary per VM - C(name), C(groups) and the host variables.
  type: list
  elements: dict
'''

import functools

from ansible.errors import AnsibleLookupError
from ansible.inventory.group import to_safe_group_name
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.lookup import LookupBase

from ansible_collections.lago.lago.plugins.module_utils import host_view
from ansible_collections.lago.lago.plugins.module_utils.errors import LagoError

# The inventory plugins' sanitizer (BaseInventoryPlugin._sanitize_group_name):
# characters a group name cannot hold become _, silently.
SAFE_GROUP_NAME = functools.partial(to_safe_group_name, force=True, silent=True)


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        if not terms:
            raise AnsibleLookupError('lago_hosts: give at least one prefix path')
        try:
            records = []
            for prefix in terms:
                records.extend(host_view.read_prefix(prefix))
            hosts = host_view.hosts(records, prefixed=self.get_option('host_name') == 'prefixed',
                                    sanitize=SAFE_GROUP_NAME)
        except LagoError as err:
            raise AnsibleLookupError('lago_hosts: %s' % to_native(err))
        return [self._add_host_args(host) for host in hosts]

    @staticmethod
    def _add_host_args(host):
        """The arguments of add_host for one host: its name, its groups (each once) and its variables."""
        groups = []
        for group in [host_view.PARENT_GROUP] + host.lago_groups + host.groups:
            if group not in groups:
                groups.append(group)
        entry = dict(host.variables, ansible_python_interpreter=host_view.PYTHON_INTERPRETER)
        entry.update(name=host.name, groups=groups)
        return entry
