# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NoCloud seeds: the standard cloud-init files on a volume labelled ``cidata``.

Any stock cloud image (cloud-init) and the collection's own templates
(lago-nocloud) read the same three files:
- meta-data: instance-id, local-hostname
- user-data: #cloud-config with root's authorized keys, the VM's SSH host key
  and root's password (a crypt hash, for chpasswd -e)
- network-config: version 2, one entry per NIC matched by MAC
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil
import tempfile

from ansible_collections.lago.lago.plugins.module_utils.runner import run

SEED_LABEL = 'cidata'


def _yaml(data):
    # JSON is valid YAML 1.2 and needs no YAML library on the controller.
    return json.dumps(data, indent=2, sort_keys=True) + '\n'


def render_seed(hostname, instance_id, authorized_keys, nics, host_key=None, fqdn=None, root_password_hash=None):
    """The seed files as {name: text}.

    ``nics``: list of dicts with ``mac`` and either ``address`` (CIDR) with
    optional ``gateway`` / ``dns`` (list) / ``search`` (list) / ``mtu``, or
    ``dhcp: True``; a NIC with neither is brought up without an address. ``host_key``: (key_type, private, public) or None.
    ``root_password_hash``: root's password as a crypt hash (never a clear one), or None.
    """
    meta = {'instance-id': instance_id, 'local-hostname': hostname}
    config = {
        'hostname': hostname,
        'manage_etc_hosts': True,
        'disable_root': False,
        'ssh_pwauth': False,
        'ssh_authorized_keys': list(authorized_keys),
        'users': [],
    }
    if fqdn:
        config['fqdn'] = fqdn
    if root_password_hash:
        # cloud-init's chpasswd (22.3 and later; lago-nocloud too): set with chpasswd -e, never expired.
        config['chpasswd'] = {'expire': False, 'users': [{'name': 'root', 'password': root_password_hash,
                                                          'type': 'hash'}]}
    if host_key:
        key_type, private, public = host_key
        config['ssh_deletekeys'] = True
        config['ssh_genkeytypes'] = []
        config['ssh_keys'] = {'%s_private' % key_type: private, '%s_public' % key_type: public}
    ethernets = {}
    for index, nic in enumerate(nics):
        entry = {'match': {'macaddress': nic['mac'].lower()}, 'set-name': 'eth%d' % index}
        entry['dhcp4'] = bool(nic.get('dhcp'))
        if nic.get('address'):
            entry['addresses'] = [nic['address']]
            if nic.get('gateway'):
                entry['routes'] = [{'to': '0.0.0.0/0', 'via': nic['gateway']}]
            if nic.get('dns') or nic.get('search'):
                entry['nameservers'] = {'addresses': list(nic.get('dns') or []),
                                        'search': list(nic.get('search') or [])}
        if nic.get('mtu'):
            entry['mtu'] = int(nic['mtu'])
        ethernets['eth%d' % index] = entry
    return {
        'meta-data': _yaml(meta),
        'user-data': '#cloud-config\n' + _yaml(config),
        'network-config': _yaml({'version': 2, 'ethernets': ethernets}),
    }


def write_seed_image(path, files):
    """Write ``files`` ({name: text}) as an ISO 9660 image labelled cidata at ``path``.

    The image holds the VM's SSH host private key: it is made inside a 0700
    work directory, made 0600 and only then renamed into place, so it is never
    readable by others and a failure leaves nothing.
    """
    directory = os.path.dirname(os.path.abspath(path))
    workdir = tempfile.mkdtemp(prefix='.seed-', dir=directory)
    partial = os.path.join(workdir, 'seed.iso')
    try:
        names = []
        for name, text in sorted(files.items()):
            with open(os.path.join(workdir, name), 'w') as handle:
                handle.write(text)
            names.append(os.path.join(workdir, name))
        run(['genisoimage', '-quiet', '-output', partial, '-volid', SEED_LABEL,
             '-joliet', '-rock'] + names)
        os.chmod(partial, 0o600)
        os.rename(partial, path)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return path
