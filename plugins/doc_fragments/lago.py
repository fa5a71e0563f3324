# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options: {}
requirements:
  - python >= 3.9
'''

    LIBVIRT = r'''
options:
  libvirt_uri:
    description:
      - The libvirt connection URI.
      - Can be set for every lago module at once with C(module_defaults) and the
        C(group/lago.lago.lago) action group.
    type: str
    default: qemu:///system
requirements:
  - libvirt-python
'''

    TEMPLATES = r'''
options:
  template_repo:
    description:
      - Path or http(s) URL of a template repository JSON file in Lago's format
        (C(name), C(sources), C(templates)).
    type: str
  template_store:
    description:
      - Directory of the local template store, laid out as Lago's
        (C(<store>/<repo>:<template>:<version>) with C(.hash), C(.metadata), C(.users)).
    type: path
    default: /var/lib/lago/store
'''

    LEASES = r'''
options:
  lease_dir:
    description:
      - Directory holding the subnet leases shared by every prefix on the host.
    type: path
    default: /var/lib/lago/subnets
'''

    LOCK = r'''
options:
  lock_timeout:
    description:
      - Seconds to wait for the prefix's lock while another run changes the prefix.
      - After that the task fails with C(prefix P is busy), naming the process that holds
        the lock, and changes nothing.
    type: float
    default: 60
'''

    ATTRIBUTES = r'''
attributes:
  check_mode:
    support: full
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    support: full
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  idempotent:
    support: full
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
'''

    INFO_ATTRIBUTES = r'''
attributes:
  check_mode:
    support: full
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    support: none
    description: Reads only; there is never a difference to show.
  idempotent:
    support: full
    description: Reads only; it never reports a change.
'''

    GROUP_LIBVIRT_URI = r'''
options:
  libvirt_uri:
    description:
      - Accepted so that C(module_defaults) of the action group C(group/lago.lago.lago) can set it
        for every lago module at once; this module does not use it.
    type: str
    default: qemu:///system
'''

    GROUP_TEMPLATE_STORE = r'''
options:
  template_store:
    description:
      - Accepted so that C(module_defaults) of the action group C(group/lago.lago.lago) can set it
        for every lago module at once; this module does not use it.
    type: path
    default: /var/lib/lago/store
'''

    GROUP_LEASE_DIR = r'''
options:
  lease_dir:
    description:
      - Accepted so that C(module_defaults) of the action group C(group/lago.lago.lago) can set it
        for every lago module at once; this module does not use it.
    type: path
    default: /var/lib/lago/subnets
'''
