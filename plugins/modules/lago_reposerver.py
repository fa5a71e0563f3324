#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: lago_reposerver
short_description: Serve a prefix's internal package repository over HTTP
version_added: 0.1.0
description:
  - Starts or stops the HTTP server of C(<prefix>/internal_repo), the
    repositories built by M(lago.lago.lago_reposetup). VMs reach a repository
    at C(http://<bind>:<port>/<name>/).
  - The server is Python's C(http.server), run as a detached process bound to
    one address only (the management network's gateway); it serves that
    directory read-only (GET and HEAD), nothing outside it.
  - Its pid, address and port are recorded in C(<prefix>/reposerver.json); its
    log is C(<prefix>/logs/reposerver.log). A recorded pid is treated as the
    server only while its command line is the server's, so no other process
    is ever signalled. A record whose process is gone is removed.
  - An address that is not on this host, or a port already in use, fails with
    a message naming both, and leaves nothing running.
author:
  - Lago developers (@lago-project)
extends_documentation_fragment:
  - lago.lago.lago.attributes
  - lago.lago.lago.group_libvirt_uri
  - lago.lago.lago.group_template_store
  - lago.lago.lago.group_lease_dir
options:
  prefix:
    description:
      - Path of the prefix directory.
    type: path
    required: true
  state:
    description:
      - V(started) serves the repositories (a server already running with the
        same O(bind) and O(port) is left alone; one with other values is
        restarted).
      - V(stopped) stops the prefix's server and removes its record.
    type: str
    choices: [started, stopped]
    default: started
  bind:
    description:
      - The IP address to listen on, usually the gateway of the prefix's
        management network. Required with O(state=started).
    type: str
  port:
    description:
      - The TCP port (Lago's is 8585).
    type: int
    default: 8585
  timeout:
    description:
      - Seconds to wait for a started server to accept connections.
    type: float
    default: 10
seealso:
  - module: lago.lago.lago_reposetup
'''

EXAMPLES = r'''
- name: Serve the internal repository to the VMs for the deploy
  lago.lago.lago_reposerver:
    prefix: /var/lib/lago/prefixes/lab
    bind: 192.168.200.1

- name: Stop serving
  lago.lago.lago_reposerver:
    prefix: /var/lib/lago/prefixes/lab
    state: stopped
'''

RETURN = r'''
state:
  description: The server's state after the task.
  returned: always
  type: str
  sample: started
pid:
  description: Process id of the server.
  returned: when O(state=started) and the server runs (in check mode, only when it already ran)
  type: int
  sample: 12345
bind:
  description: The address the server listens on.
  returned: when O(state=started)
  type: str
  sample: 192.168.200.1
port:
  description: The port the server listens on.
  returned: when O(state=started)
  type: int
  sample: 8585
url:
  description: Base URL of the served directory; a repository is at C(<url><name>/).
  returned: when O(state=started)
  type: str
  sample: http://192.168.200.1:8585/
root:
  description: The served directory.
  returned: always
  type: str
  sample: /var/lib/lago/prefixes/lab/internal_repo
'''

import os

from ansible_collections.lago.lago.plugins.module_utils import reposerver
from ansible_collections.lago.lago.plugins.module_utils._runtime import run_module
from ansible_collections.lago.lago.plugins.module_utils.repos import DEFAULT_PORT, REPO_DIR

ARGUMENT_SPEC = dict(
    prefix=dict(type='path', required=True),
    state=dict(type='str', default='started', choices=['started', 'stopped']),
    bind=dict(type='str'),
    port=dict(type='int', default=DEFAULT_PORT),
    timeout=dict(type='float', default=10.0),
)


def execute(run):
    params = run.params
    prefix = os.path.abspath(params['prefix'])
    if params['state'] == 'started':
        outcome = reposerver.start(prefix, params['bind'], params['port'], check_mode=run.check_mode,
                                   timeout=params['timeout'])
    else:
        outcome = reposerver.stop(prefix, check_mode=run.check_mode)
    run.track('server', outcome['before'], outcome['after'], changed=outcome['changed'])
    result = dict(outcome['after'], root=os.path.join(prefix, REPO_DIR))
    record = outcome['record']
    if params['state'] == 'started' and record and not (run.check_mode and outcome['changed']):
        result['pid'] = record['pid']
    return result


def main():
    run_module(ARGUMENT_SPEC, execute, required_if=[('state', 'started', ['bind'])])


if __name__ == '__main__':
    main()
