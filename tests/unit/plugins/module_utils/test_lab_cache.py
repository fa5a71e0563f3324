# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The warm-lab cache's pure parts: the key, the warm init spec, listing, verifying, pruning."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import os
import time

from ansible_collections.lago.lago.plugins.module_utils import lab_cache
from ansible_collections.lago.lago.plugins.module_utils.spec_normalize import normalize_spec

INIT = '''
domains:
  vm01:
    memory: 512
    nics: [{net: lan}]
    disks:
      - {template_name: debian12, type: template, name: root, dev: vda, format: qcow2}
      - {type: empty, name: data, dev: vdb, size: 1G}
    metadata:
      deploy-scripts: [$LAGO_INITFILE_PATH/deploy.sh]
nets:
  lan: {type: nat, management: true}
'''


def lab(tmp_path, script='echo one'):
    (tmp_path / 'deploy.sh').write_text(script)
    (tmp_path / 'LagoInitFile').write_text(INIT)
    (tmp_path / 'repo.json').write_text('{"templates": {}}')
    return str(tmp_path / 'LagoInitFile')


def key(tmp_path, **kwargs):
    return lab_cache.key_of(str(tmp_path / 'LagoInitFile'), '/p', str(tmp_path / 'repo.json'), **kwargs)[0]


def test_the_key_follows_every_input(tmp_path):
    lab(tmp_path)
    first = key(tmp_path, collection_version='0.1.0')
    assert first.startswith('lab-') and len(first) == 36
    assert key(tmp_path, collection_version='0.1.0') == first, 'the same inputs, the same key'
    assert key(tmp_path, collection_version='0.2.0') != first
    (tmp_path / 'deploy.sh').write_text('echo two')
    assert key(tmp_path, collection_version='0.1.0') != first, 'a changed deploy script'
    (tmp_path / 'deploy.sh').write_text('echo one')
    (tmp_path / 'repo.json').write_text('{"templates": {"debian12": {}}}')
    assert key(tmp_path, collection_version='0.1.0') != first, 'a changed template repository'
    (tmp_path / 'repo.json').write_text('{"templates": {}}')
    (tmp_path / 'debs').mkdir()
    with_dir = key(tmp_path, collection_version='0.1.0', deb_dirs=[str(tmp_path / 'debs')])
    assert with_dir != first
    (tmp_path / 'debs' / 'a.deb').write_text('x')
    assert key(tmp_path, collection_version='0.1.0', deb_dirs=[str(tmp_path / 'debs')]) != with_dir, 'a new package'
    (tmp_path / 'LagoInitFile').write_text(INIT.replace('512', '1024'))
    assert key(tmp_path, collection_version='0.1.0') != first, 'a changed init file'


def manifest_and_entry():
    manifest = dict(version=1, layers={'vm01_root.qcow2': dict(size=1, sha256='a' * 64, backing=None),
                                       'vm01_data.qcow2': dict(size=1, sha256='a' * 64, backing=None)},
                    files={'vm01.mem': dict(size=1, sha256='a' * 64), 'id_rsa': dict(size=1, sha256='a' * 64)},
                    identity=dict(file='id_rsa', public='ssh-rsa AAAA'),
                    vms={'vm01': dict(memory='vm01.mem', disks=dict(root=dict(layer='vm01_root.qcow2', dev='vda'),
                                                                    data=dict(layer='vm01_data.qcow2', dev='vdb')))})
    entry = dict(gateways={'lan': '192.168.210.1'}, nics={'vm01': [dict(net='lan', ip='192.168.210.2')]})
    return manifest, entry


def test_the_warm_spec_has_the_saved_subnets_addresses_and_layers(tmp_path):
    _key, _inputs, spec = lab_cache.key_of(lab(tmp_path), '/p')
    location = str(tmp_path / 'cache' / 'lab-x')
    os.makedirs(location)
    with open(os.path.join(location, 'manifest.json'), 'w') as handle:
        json.dump(manifest_and_entry()[0], handle)
    warm = lab_cache.warm_spec(spec, 'lab-x', str(tmp_path / 'cache'), *manifest_and_entry())
    assert warm['nets']['lan']['gw'] == '192.168.210.1'
    assert warm['domains']['vm01']['nics'][0]['ip'] == '192.168.210.2'
    assert warm['domains']['vm01']['disks'][0] == dict(type='template', template_type='pool', path=location,
                                                       name='root', dev='vda', template_name='vm01/root')
    assert spec['nets']['lan']['gw'] is None, 'the spec itself is not changed'
    again = normalize_spec(warm, base_dir=str(tmp_path), prefix_path='/p')  # what lago_prefix does with it
    assert again['domains']['vm01']['disks'][1]['template_type'] == 'pool'
    manifest, entry = manifest_and_entry()
    manifest['vms']['vm02'] = manifest['vms']['vm01']
    assert lab_cache.warm_spec(spec, 'lab-x', location, manifest, entry) is None, 'an entry of another lab'


def write_entry(cache, key, created='2026-01-01T00:00:00Z', payload=b'x'):
    directory = os.path.join(cache, key)
    os.makedirs(directory)
    with open(os.path.join(directory, 'vm01_root.qcow2'), 'wb') as handle:
        handle.write(payload)
    digest = hashlib.sha256(payload).hexdigest()
    manifest = dict(version=1, layers={'vm01_root.qcow2': dict(size=len(payload), sha256=digest, backing=None)},
                    vms={'vm01': dict(disks={'root': dict(layer='vm01_root.qcow2', dev='vda')})})
    for name, data in (('manifest.json', manifest), ('entry.json', dict(created=created))):
        with open(os.path.join(directory, name), 'w') as handle:
            json.dump(data, handle)
    return directory


def test_list_verify_and_prune(tmp_path):
    cache = str(tmp_path / 'cache')
    assert lab_cache.entries(cache) == []
    write_entry(cache, 'lab-old', created='2026-01-01T00:00:00Z')
    write_entry(cache, 'lab-new', created='2026-02-01T00:00:00Z')
    os.makedirs(os.path.join(cache, 'lab-cut.partial'))
    listed = lab_cache.entries(cache)
    assert [(item['key'], item['complete']) for item in listed] == [
        ('lab-cut.partial', False), ('lab-old', True), ('lab-new', True)]
    assert lab_cache.problems(cache, 'lab-old') == []
    with open(os.path.join(cache, 'lab-old', 'vm01_root.qcow2'), 'wb') as handle:
        handle.write(b'y')
    verify = lab_cache.plan_verify(cache)
    damaged = verify.values['damaged']
    assert sorted(damaged) == ['lab-cut.partial', 'lab-old']
    assert damaged['lab-cut.partial'] == ['incomplete (no valid manifest.json and entry.json)']
    assert damaged['lab-old'] == ['vm01_root.qcow2 fails its sha256 (manifest: %s)' % hashlib.sha256(b'x').hexdigest()]
    assert not verify.changed, 'only remove_damaged removes'
    removed = lab_cache.plan_verify(cache, 'lab-old', remove_damaged=True)
    assert removed.apply() == dict(removed=['lab-old']) and not os.path.exists(os.path.join(cache, 'lab-old'))
    assert not lab_cache.plan_prune(cache, keep=1).changed, 'the newest stays; a fresh cut-short save too'
    old = time.time() - 3 * 86400
    os.utime(os.path.join(cache, 'lab-cut.partial'), (old, old))
    os.utime(os.path.join(cache, 'lab-new'), (old, old))
    assert lab_cache.plan_prune(cache, keep=1).apply() == dict(removed=['lab-cut.partial'])
    assert lab_cache.plan_prune(cache, max_age_days=2).apply() == dict(removed=['lab-new'])
    assert lab_cache.entries(cache) == []
