# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The init file: reading, normalizing, every bad input, spec_diff."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import json
import os
import signal
import time

import pytest

from ansible_collections.lago.lago.plugins.module_utils.errors import SpecError
from ansible_collections.lago.lago.plugins.module_utils.spec_diff import spec_diff
from ansible_collections.lago.lago.plugins.module_utils.spec_normalize import load_init_file, normalize_spec
from ansible_collections.lago.lago.plugins.module_utils.spec_read import read_init_file
from ansible_collections.lago.lago.plugins.module_utils.values import is_remote_location

FIXTURES = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'fixtures', 'spec'))
YAML_FILE = os.path.join(FIXTURES, 'LagoInitFile')
JSON_FILE = os.path.join(FIXTURES, 'LagoInitFile.json')
SCRIPTS = os.path.join(FIXTURES, 'scripts')
GIB = 1024 ** 3


def minimal(**domain):
    """A small valid raw spec: one VM on 'lan' (management) and 'storage'."""
    vm = {
        'nics': [{'net': 'lan'}],
        'disks': [{'type': 'template', 'template_name': 'debian12'}],
    }
    vm.update(domain)
    return {
        'domains': {'vm01': vm},
        'nets': {'lan': {'management': True}, 'storage': {'type': 'nat'}},
    }


def error_of(raw, **kwargs):
    with pytest.raises(SpecError) as caught:
        normalize_spec(raw, **kwargs)
    return str(caught.value)


def write(path, text):
    path.write_text(text)
    return str(path)


# ---------------------------------------------------------------------------
# The realistic init file

@pytest.fixture(scope='module')
def fixture_spec():
    return load_init_file(YAML_FILE, prefix_path='/var/lib/lago/prefixes/p1')


def test_yaml_anchors_and_merges_are_applied(fixture_spec):
    domains = fixture_spec['domains']
    assert sorted(domains) == ['basic-engine', 'basic-host-0', 'basic-host-1']
    engine, host0, host1 = domains['basic-engine'], domains['basic-host-0'], domains['basic-host-1']
    # From vm-common-settings through host-settings (a merge of a merge).
    assert host0['root-password'] == '123456' and host0['service_provider'] == 'systemd'
    assert host0['vm-type'] == 'ovirt-host' and host0['memory'] == 2047
    assert host1['memory'] == 3072  # overrides the merged value
    assert host0['groups'] == ['hosts']
    assert engine['groups'] == ['engines', 'ovirt']
    assert engine['memory'] == 4096 and engine['vcpu'] == 2
    assert host0['vcpu'] == 1
    assert engine['artifacts'] == ['/tmp/otopi*', '/var/log']
    assert host0['artifacts'] == ['/etc/resolv.conf', '/var/log']


def test_nics_disks_and_management(fixture_spec):
    engine = fixture_spec['domains']['basic-engine']
    assert engine['nics'] == [{'net': 'basic-net-management', 'ip': '192.168.200.99'},
                              {'net': 'basic-net-storage', 'ip': None}]
    assert all(vm['management_net'] == 'basic-net-management' for vm in fixture_spec['domains'].values())
    assert engine['disks'] == [
        {'name': 'root', 'dev': 'vda', 'type': 'template', 'format': 'qcow2',
         'template_name': 'el8-base', 'template_version': 'v3', 'template_type': 'lago'},
        {'name': 'nfs', 'dev': 'sda', 'type': 'empty', 'format': 'raw', 'size': 101 * GIB},
        {'name': 'iscsi', 'dev': 'sdc', 'type': 'empty', 'format': 'raw', 'size': 105 * GIB},
    ]
    brick = fixture_spec['domains']['basic-host-1']['disks'][1]
    assert brick == {'name': 'brick', 'dev': 'vdb', 'type': 'empty', 'format': 'qcow2', 'size': 20 * GIB}


def test_nets_are_filled_in(fixture_spec):
    assert fixture_spec['nets'] == {
        'basic-net-management': {'type': 'nat', 'management': True, 'gw': None, 'mtu': 1500,
                                 'dhcp': {'start': 100, 'end': 254}, 'dns_domain_name': 'lago.local'},
        'basic-net-storage': {'type': 'nat', 'management': False, 'gw': None, 'mtu': 1500,
                              'dhcp': {'start': 100, 'end': 254}},
    }


def test_metadata_and_deploy_scripts(fixture_spec):
    engine = fixture_spec['domains']['basic-engine']
    assert engine['metadata'] == {
        'ovirt-engine-password': '123',
        'deploy-scripts': [os.path.join(SCRIPTS, 'setup_engine.sh'), os.path.join(SCRIPTS, 'setup_host.sh')],
    }
    # Relative to the init file's directory.
    assert fixture_spec['domains']['basic-host-0']['metadata']['deploy-scripts'] == [
        os.path.join(SCRIPTS, 'setup_host.sh')]


def test_json_twin_gives_the_same_spec(fixture_spec):
    assert load_init_file(JSON_FILE, prefix_path='/var/lib/lago/prefixes/p1') == fixture_spec


def test_anchor_holders_are_dropped_when_reading():
    assert sorted(read_init_file(YAML_FILE)) == ['domains', 'nets']


def test_spec_is_plain_json_and_deterministic(fixture_spec):
    text = json.dumps(fixture_spec, sort_keys=True)
    assert json.loads(text) == fixture_spec
    raw = read_init_file(YAML_FILE)
    reordered = {'nets': dict(reversed(list(raw['nets'].items()))),
                 'domains': dict(reversed(list(raw['domains'].items())))}
    again = normalize_spec(reordered, base_dir=FIXTURES, prefix_path='/var/lib/lago/prefixes/p1')
    assert json.dumps(again, sort_keys=True) == text
    assert list(again['domains']) == sorted(again['domains'])


def test_normalize_does_not_change_its_input():
    raw = minimal(groups='web')
    before = copy.deepcopy(raw)
    normalize_spec(raw)
    assert raw == before


# ---------------------------------------------------------------------------
# Idempotence

def varied_specs(tmp_path):
    image = tmp_path / 'data.qcow2'
    image.write_bytes(b'')
    base = tmp_path / 'base.img'
    base.write_bytes(b'')
    yield normalize_spec(read_init_file(YAML_FILE), base_dir=FIXTURES)
    spec = minimal(disks=[
        {'type': 'template', 'template_type': 'qcow2', 'path': str(base), 'template_name': 'el8'},
        {'type': 'file', 'path': str(image), 'make_a_copy': True},
        {'type': 'empty', 'size': 1073741824, 'dev': 'sdb', 'metadata': {'k': [1, None]}},
    ], cpu_custom={'@mode': 'custom', 'model': {'#text': 'SandyBridge'}}, nics=[
        {'net': 'lan', 'ip': '10.1.2.9'}, {'net': 'storage'}, {'net': 'bridged'}])
    spec['nets']['bridged'] = {'type': 'bridge', 'mtu': 9000}
    yield spec
    spec = minimal(**{'root-password': 123, 'based-on': {'memory': 512, 'distro': 'el8'}})
    spec['nets'] = {'lan': {'gw': '10.1.2.1', 'dns_domain_name': 'lab.test.'}, 'storage': {}}
    yield spec


def test_normalize_is_idempotent(tmp_path):
    for raw in varied_specs(tmp_path):
        once = normalize_spec(raw, base_dir=str(tmp_path))
        assert normalize_spec(once, base_dir='/nowhere') == once
        assert normalize_spec(json.loads(json.dumps(once)), base_dir='/nowhere') == once


# ---------------------------------------------------------------------------
# Defaults and accepted Lago keys

def test_defaults():
    vm = normalize_spec(minimal())['domains']['vm01']
    assert vm == {
        'memory': 1024, 'vcpu': 1, 'vm-type': 'default', 'ssh-user': 'root', 'bootstrap': True,
        'groups': [], 'artifacts': [], 'metadata': {'deploy-scripts': []},
        'nics': [{'net': 'lan', 'ip': None}], 'management_net': 'lan',
        'disks': [{'name': 'vda', 'dev': 'vda', 'type': 'template', 'format': 'qcow2',
                   'template_name': 'debian12', 'template_version': None, 'template_type': 'lago'}],
    }


def test_first_net_by_name_is_management_when_none_is_marked():
    raw = minimal(nics=[{'net': 'storage'}, {'net': 'lan'}])
    raw['nets'] = {'storage': {}, 'lan': {}}
    spec = normalize_spec(raw)
    assert spec['nets']['lan']['management'] is True
    assert spec['nets']['storage']['management'] is False
    assert spec['domains']['vm01']['management_net'] == 'lan'
    assert spec['domains']['vm01']['nics'][0] == {'net': 'storage', 'ip': None}


def test_lago_keys_are_kept():
    raw = minimal(**{
        'root-password': 123456, 'ssh-user': 'cloud', 'distro': 'el8',
        'service_provider': 'systemd', 'cpu_model': 'SandyBridge', 'boot_time_sec': '300',
        'bootstrap': True, 'vm-provider': 'local-libvirt', 'name': 'vm01', 'comment': 'x',
        'vm-type': 'ovirt-host', 'memory': '2048', 'vcpu': 4,
    })
    vm = normalize_spec(raw)['domains']['vm01']
    assert vm['root-password'] == '123456' and 'ssh-password' not in vm
    assert vm['ssh-user'] == 'cloud' and vm['distro'] == 'el8' and vm['service_provider'] == 'systemd'
    assert vm['cpu_model'] == 'SandyBridge' and vm['boot_time_sec'] == 300
    assert vm['bootstrap'] is True and vm['vm-type'] == 'ovirt-host'
    assert vm['memory'] == 2048 and vm['vcpu'] == 4
    assert 'vm-provider' not in vm and 'name' not in vm and 'comment' not in vm


def test_based_on_fills_missing_keys():
    raw = minimal(memory=4096, **{'based-on': {'memory': 512, 'vcpu': 3}})
    vm = normalize_spec(raw)['domains']['vm01']
    assert (vm['memory'], vm['vcpu']) == (4096, 3)


def test_ovirt_scripts_is_renamed_to_deploy_scripts():
    raw = minimal(metadata={'ovirt-scripts': [os.path.join(SCRIPTS, 'setup_host.sh')]})
    assert normalize_spec(raw)['domains']['vm01']['metadata'] == {
        'deploy-scripts': [os.path.join(SCRIPTS, 'setup_host.sh')]}


def test_empty_values_mean_not_set():
    raw = minimal(groups=None, artifacts=None, metadata=None)
    raw['nets']['storage'] = None
    vm = normalize_spec(raw)['domains']['vm01']
    assert vm['groups'] == [] and vm['artifacts'] == []


def test_file_disk_format_follows_the_extension(tmp_path):
    iso = write(tmp_path / 'tools.iso', '')
    raw_img = write(tmp_path / 'blob.img', '')
    raw = minimal(disks=[{'type': 'template', 'template_name': 't'},
                         {'type': 'file', 'path': 'tools.iso'}, {'type': 'file', 'path': raw_img}])
    disks = normalize_spec(raw, base_dir=str(tmp_path))['domains']['vm01']['disks']
    assert [(d['dev'], d['format'], d.get('path')) for d in disks[1:]] == [
        ('vdb', 'iso', iso), ('vdc', 'raw', raw_img)]


def test_default_devs_skip_given_ones():
    raw = minimal(disks=[{'type': 'empty', 'size': '1G'}, {'type': 'empty', 'size': '1G', 'dev': 'vda'},
                         {'type': 'empty', 'size': '1.5G'}])
    disks = normalize_spec(raw)['domains']['vm01']['disks']
    assert [(d['name'], d['dev']) for d in disks] == [('vdb', 'vdb'), ('vda', 'vda'), ('vdc', 'vdc')]
    assert disks[2]['size'] == 1610612736


def test_static_ip_without_gw_keeps_its_last_octet_unique():
    raw = minimal(nics=[{'net': 'lan', 'ip': '192.168.200.10'}])
    raw['domains']['vm02'] = {'nics': [{'net': 'lan', 'ip': '10.0.0.11'}],
                              'disks': [{'type': 'template', 'template_name': 't'}]}
    assert normalize_spec(raw)['domains']['vm02']['nics'][0]['ip'] == '10.0.0.11'


# ---------------------------------------------------------------------------
# Paths and variables

def test_lago_variables_are_expanded(tmp_path):
    prefix = tmp_path / 'work' / 'prefix'
    (prefix / 'images').mkdir(parents=True)
    in_prefix = write(prefix / 'images' / 'a.raw', '')
    in_workdir = write(tmp_path / 'work' / 'b.qcow2', '')
    init_dir = tmp_path / 'init'
    (init_dir / 'scripts').mkdir(parents=True)
    script = write(init_dir / 'scripts' / 's.sh', '')
    init_file = write(init_dir / 'LagoInitFile', '''
domains:
  vm01:
    nics: [{net: lan}]
    disks:
      - {type: template, template_name: t}
      - {type: file, path: $LAGO_PREFIX_PATH/images/a.raw}
      - {type: file, path: "${LAGO_WORKDIR_PATH}/b.qcow2"}
    metadata:
      deploy-scripts: [$LAGO_INITFILE_PATH/scripts/s.sh, scripts/s.sh, "${LAGO_INITFILE_PATH}/scripts/../scripts/s.sh"]
nets:
  lan: {}
''')
    vm = load_init_file(init_file, prefix_path=str(prefix))['domains']['vm01']
    assert [d.get('path') for d in vm['disks']] == [None, in_prefix, in_workdir]
    assert vm['metadata']['deploy-scripts'] == [script, script, script]


def test_relative_paths_of_a_dict_use_base_dir(tmp_path):
    write(tmp_path / 'x.sh', '')
    raw = minimal(metadata={'deploy-scripts': ['x.sh']})
    spec = normalize_spec(raw, base_dir=str(tmp_path))
    assert spec['domains']['vm01']['metadata']['deploy-scripts'] == [str(tmp_path / 'x.sh')]


def test_prefix_variable_needs_a_prefix_path():
    raw = minimal(metadata={'deploy-scripts': ['$LAGO_PREFIX_PATH/s.sh']})
    assert error_of(raw) == ('domains.vm01.metadata.deploy-scripts[0]: '
                             '$LAGO_PREFIX_PATH is used but no prefix path is known')


def test_other_environment_variables_are_refused():
    raw = minimal(metadata={'deploy-scripts': ['$HOME/s.sh']})
    message = error_of(raw)
    assert message.startswith('domains.vm01.metadata.deploy-scripts[0]: $HOME: only $LAGO_PREFIX_PATH')


def test_missing_deploy_script_names_vm_and_path(tmp_path):
    raw = minimal(metadata={'deploy-scripts': ['scripts/nope.sh']})
    assert error_of(raw, base_dir=str(tmp_path)) == (
        'domains.vm01.metadata.deploy-scripts[0]: deploy script %s does not exist'
        % (tmp_path / 'scripts' / 'nope.sh'))


def test_deploy_script_must_be_a_file(tmp_path):
    raw = minimal(metadata={'deploy-scripts': [str(tmp_path)]})
    assert error_of(raw) == ('domains.vm01.metadata.deploy-scripts[0]: deploy script %s is not a file' % tmp_path)


def test_missing_file_disk(tmp_path):
    raw = minimal(disks=[{'type': 'file', 'path': 'disk.raw'}])
    assert error_of(raw, base_dir=str(tmp_path)) == (
        'domains.vm01.disks[0].path: disk image %s does not exist' % (tmp_path / 'disk.raw'))


# ---------------------------------------------------------------------------
# Files that are not YAML/JSON

def pool_state(tmp_path, name='installed', complete=True):
    state = tmp_path / 'pool' / name
    state.mkdir(parents=True)
    if complete:
        (state / 'manifest.json').write_text('{}')
    return str(state)


def test_pool_disk_names_a_local_state(tmp_path):
    location = pool_state(tmp_path)
    spec = normalize_spec(minimal(disks=[{'type': 'template', 'template_type': 'pool', 'path': 'pool/installed/',
                                          'template_name': 'engine/root'}]), base_dir=str(tmp_path))
    assert spec['domains']['vm01']['disks'] == [
        {'name': 'vda', 'dev': 'vda', 'type': 'template', 'format': 'qcow2', 'template_type': 'pool',
         'template_version': None, 'path': location, 'template_name': 'engine/root'}]


def test_pool_disk_on_another_host_is_kept_as_given():
    spec = normalize_spec(minimal(disks=[{'type': 'template', 'template_type': 'pool',
                                          'path': 'lago@store.example.com:/srv/pool/installed'}]))
    assert spec['domains']['vm01']['disks'][0]['path'] == 'lago@store.example.com:/srv/pool/installed'
    assert 'template_name' not in spec['domains']['vm01']['disks'][0]


@pytest.mark.parametrize('disk, expected', [
    ({}, 'domains.vm01.disks[0].path: missing: a template_type pool disk needs the pool state'),
    ({'path': 'pool/missing'}, 'does not exist'),
    ({'path': 'pool/incomplete'}, 'is incomplete (no manifest.json)'),
    ({'path': 'pool/installed', 'template_version': 'v1'},
     'domains.vm01.disks[0].template_version: does not apply to template_type pool'),
    ({'path': 'pool/installed', 'template_name': 'a/b/c'},
     "domains.vm01.disks[0].template_name: for a pool disk give <vm> or <vm>/<disk> of the state, not 'a/b/c'"),
])
def test_bad_pool_disks(tmp_path, disk, expected):
    pool_state(tmp_path)
    pool_state(tmp_path, 'incomplete', complete=False)
    disk.update(type='template', template_type='pool')
    assert expected in error_of(minimal(disks=[disk]), base_dir=str(tmp_path))


@pytest.mark.parametrize('location, remote', [
    ('host:/srv/pool', True), ('user@host:/srv/pool', True), ('host:relative', True),
    ('/srv/po:ol', False), ('./a:b', False), ('~/pool', False), ('pool/state', False), ('$LAGO_PREFIX_PATH/p', False),
])
def test_remote_locations(location, remote):
    assert is_remote_location(location) is remote


@pytest.mark.parametrize('text, expected', [
    ('domains:\n  vm01: {nics: [}\n', 'not valid YAML (line 2, column'),
    ('domains:\n\tvm01: {}\n', 'not valid YAML (line 2, column 1)'),
    ('{"domains": {}, "nets": {,}}\n', 'not valid JSON (line 1, column 26)'),
    ('{\n  "nets": {},\n  "nets": {}\n}\n', "not valid JSON: duplicate key 'nets'"),
    ('domains: {}\nnets: {}\ndomains: {}\n', "not valid YAML (line 3, column 1): found duplicate key 'domains'"),
    ('a: 1\n---\nb: 2\n', 'not valid YAML (line 2, column 1)'),
    ('x: !!python/object/apply:os.system [true]\n', 'not valid YAML (line 1, column 4)'),
    ('', 'the init file is empty'),
    ('- a\n- b\n', 'must be a mapping with domains: and nets:, not a list'),
])
def test_unreadable_init_files(tmp_path, text, expected):
    path = write(tmp_path / 'LagoInitFile', text)
    with pytest.raises(SpecError) as caught:
        load_init_file(path)
    assert str(caught.value).startswith(path + ': ')
    assert expected in str(caught.value)


def test_missing_init_file(tmp_path):
    with pytest.raises(SpecError, match='cannot read init file .*nope: No such file'):
        load_init_file(str(tmp_path / 'nope'))


def test_semantic_errors_name_the_file(tmp_path):
    path = write(tmp_path / 'LagoInitFile', 'domains: {vm01: {memory: lots, nics: [{net: lan}], '
                                            'disks: [{type: template, template_name: t}]}}\nnets: {lan: {}}\n')
    with pytest.raises(SpecError) as caught:
        load_init_file(path)
    assert str(caught.value) == "%s: domains.vm01.memory: must be an integer, not 'lots'" % path


def test_every_problem_of_a_file_is_reported_at_once(tmp_path):
    path = write(tmp_path / 'LagoInitFile', 'domains: {vm01: {memory: lots}}\nnets: {lan: {}}\n')
    with pytest.raises(SpecError) as caught:
        load_init_file(path)
    assert str(caught.value) == (
        "%s: 3 problems: domains.vm01.memory: must be an integer, not 'lots'; "
        "domains.vm01.nics: a VM needs at least one NIC, on the management net; "
        "domains.vm01.disks: a VM needs at least one disk (the first one boots)" % path)
    assert caught.value.problems == [
        "domains.vm01.memory: must be an integer, not 'lots'",
        'domains.vm01.nics: a VM needs at least one NIC, on the management net',
        'domains.vm01.disks: a VM needs at least one disk (the first one boots)']


def test_independent_problems_across_nets_vms_nics_and_disks():
    raw = second_vm(minimal(vcpu=0, nics=[{'net': 'lan'}, {'net': 'lan2'}]),
                    nics=[{'net': 'lan', 'ip': '10.0.0.1'}],
                    disks=[{'type': 'empty', 'size': '10X', 'bogus': 1}, {'type': 'file'}])
    raw['nets']['storage'] = {'mtu': 10}
    raw['extra'] = {}
    with pytest.raises(SpecError) as caught:
        normalize_spec(raw)
    assert caught.value.problems == [
        'extra: unknown top-level key (the init file has domains: and nets:; a key that only holds shared '
        'settings must carry a YAML anchor, e.g. extra: &extra)',
        'nets.storage.mtu: must be between 68 and 65535, not 10',
        "domains.vm01.vcpu: 0 vCPUs: a VM has 1 to 255 (the most qemu's pc machine takes)",
        "domains.vm01.nics[1].net: unknown net 'lan2' (nets: lan, storage)",
        'domains.vm02.nics[0].ip: 10.0.0.1: .1 is the gateway of the leased subnet; use 2 to 254',
        'domains.vm02.disks[0].bogus: unknown key',
        "domains.vm02.disks[0].size: '10X' is not a size: give bytes or a number with a K, M, G or T suffix "
        '(10G, 512M, 1.5T)',
        'domains.vm02.disks[1].path: missing: a file disk needs the path of its image',
    ]
    assert str(caught.value).startswith('8 problems: extra: unknown top-level key')
    assert '; nets.storage.mtu: must be between 68 and 65535, not 10; ' in str(caught.value)


def test_a_net_with_problems_does_not_make_problems_of_its_vms():
    # The NICs on it name a known net; their addresses cannot be judged until it is fixed.
    raw = minimal(nics=[{'net': 'lan'}, {'net': 'storage', 'ip': '10.0.0.1'}])
    raw['nets']['storage'] = {'gw': '10.9.9.9'}
    assert error_of(raw) == 'nets.storage.gw: 10.9.9.9 cannot be the gateway: the gateway of a net is the .1 of its /24 (10.9.9.1)'


def test_a_bad_management_net_leaves_the_vms_alone():
    raw = minimal()
    raw['nets']['lan']['mtu'] = 'big'
    assert error_of(raw) == "nets.lan.mtu: must be an integer, not 'big'"


def test_a_duplicate_dev_is_one_problem():
    raw = minimal(disks=[{'type': 'empty', 'size': '1G', 'dev': 'sda'}, {'type': 'empty', 'size': '1G', 'dev': 'sda'}])
    assert error_of(raw) == 'domains.vm01.disks[1].dev: sda is already used by disks[0]'


# A 9-fold alias, 9 levels deep: 9 ** 9 (387 million) strings once expanded.
BILLION_LAUGHS = """a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
domains:
  vm01:
    nics: [{net: lan}]
    disks: [{type: template, template_name: t}]
    metadata: {laughs: *i}
nets: {lan: {}}
"""


@pytest.fixture
def one_second():
    """Fail the test (rather than hang it) when it takes more than a second."""
    def expired(_signum, _frame):
        raise AssertionError('took more than a second')
    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, expired)
    outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, 1.0)  # pytest-timeout's, if any
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)
    if outer_delay:
        signal.setitimer(signal.ITIMER_REAL, max(outer_delay - (time.monotonic() - started), 0.01), outer_interval)


def test_billion_laughs_fails_fast_and_names_the_file(tmp_path, one_second):
    assert 500 < len(BILLION_LAUGHS) < 700
    path = write(tmp_path / 'LagoInitFile', BILLION_LAUGHS)
    with pytest.raises(SpecError) as caught:
        load_init_file(path)
    assert str(caught.value).startswith(
        '%s: its YAML aliases expand to more than 100000 values (line ' % path)
    assert 'billion laughs' in str(caught.value)


def test_aliases_within_the_bound_are_expanded(tmp_path):
    lines = BILLION_LAUGHS.splitlines(True)
    text = ''.join(lines[:3] + lines[9:]).replace('metadata: {laughs: *i}', 'metadata: {laughs: *c}')
    metadata = load_init_file(write(tmp_path / 'LagoInitFile', text))['domains']['vm01']['metadata']
    assert len(metadata['laughs']) == 9 and metadata['laughs'][8][8] == ['lol'] * 9


def test_recursive_alias_is_refused(tmp_path):
    path = write(tmp_path / 'LagoInitFile', 'loop: &loop [1, *loop]\ndomains: {}\nnets: {}\n')
    with pytest.raises(SpecError) as caught:
        load_init_file(path)
    assert str(caught.value) == '%s: a YAML alias at line 1 refers to a node that contains it (recursive data)' % path


@pytest.mark.parametrize('text, expected', [
    ('x: ' + '[' * 5000 + '\n', 'not valid YAML: nested too deeply'),
    ('{"x": ' + '[' * 50000 + '\n', 'not valid JSON: nested too deeply'),
])
def test_deeply_nested_file_is_refused(tmp_path, text, expected):
    path = write(tmp_path / 'LagoInitFile', text)
    with pytest.raises(SpecError) as caught:
        load_init_file(path)
    assert str(caught.value) == '%s: %s' % (path, expected)


def test_unanchored_extra_top_level_key_is_refused(tmp_path):
    path = write(tmp_path / 'LagoInitFile', 'common: {memory: 1}\ndomains: {}\nnets: {lan: {}}\n')
    with pytest.raises(SpecError, match=r': common: unknown top-level key'):
        load_init_file(path)


def test_prototypes_top_level_key_is_accepted():
    raw = minimal()
    raw['prototypes'] = {'small': {'memory': 256}}
    assert sorted(normalize_spec(raw)) == ['domains', 'nets']


# ---------------------------------------------------------------------------
# Bad input, each naming its place

def with_nets(raw, **nets):
    raw['nets'] = nets
    return raw


def second_vm(raw, **vm):
    vm.setdefault('disks', [{'type': 'template', 'template_name': 't'}])
    raw['domains']['vm02'] = vm
    return raw


BAD_SPECS = [
    # nets
    (with_nets(minimal()), 'nets: at least one net is needed'),
    (with_nets(minimal(), lan={'management': True}, storage={'management': True}),
     'nets: more than one net is marked management: lan, storage; mark exactly one'),
    (with_nets(minimal(), lan={'type': 'bridge'}),
     'nets.lan: the management net (the first net by name, as none is marked management: true) must be a nat net'),
    (with_nets(minimal(), lan={'type': 'isolated'}), "nets.lan.type: must be one of nat, bridge, not 'isolated'"),
    (with_nets(minimal(), lan={'gw': '10.0.0.1', 'enable_ipv6': True}), 'nets.lan.enable_ipv6: unknown key'),
    (with_nets(minimal(), lan={'main_dns': True}), 'nets.lan.main_dns: is not supported'),
    (with_nets(minimal(), lan={'gw': '10.0.0.300'}), "nets.lan.gw: '10.0.0.300' is not an IPv4 address"),
    (with_nets(minimal(), lan={'gw': '10.0.0.0'}), 'nets.lan.gw: 10.0.0.0 cannot be the gateway: the gateway of a net is the .1 of its /24 (10.0.0.1)'),
    (with_nets(minimal(), lan={'dhcp': {'start': 200, 'end': 100}}), 'nets.lan.dhcp: the range .200-.100 ends before it starts'),
    (with_nets(minimal(), lan={'dhcp': {'start': 1, 'end': 100}}),
     'nets.lan.dhcp.start: 1: .1 is the gateway of the leased subnet; use 2 to 254'),
    (with_nets(minimal(), lan={'dhcp': {'start': 100, 'end': 255}}),
     'nets.lan.dhcp.end: 255: .255 is the broadcast address of the leased subnet; use 2 to 254'),
    (with_nets(minimal(), lan={'gw': '10.0.0.1', 'dhcp': {'start': '10.0.1.100', 'end': 200}}),
     'nets.lan.dhcp.start: 10.0.1.100 is outside the subnet 10.0.0.0/24'),
    (with_nets(minimal(), lan={'dhcp': {'start': 100, 'end': 200, 'stop': 3}}),
     'nets.lan.dhcp.stop: unknown key: a DHCP range has start and end'),
    (with_nets(minimal(), lan={'dhcp': {'start': 100}}), 'nets.lan.dhcp: needs start and end, last octets or addresses (missing: end)'),
    (with_nets(minimal(), lan={'gw': '10.0.0.150'}), 'nets.lan.gw: 10.0.0.150 cannot be the gateway'),
    (with_nets(minimal(), lan={'mtu': 'big'}), "nets.lan.mtu: must be an integer, not 'big'"),
    (with_nets(minimal(), lan={'management': 'yes'}), "nets.lan.management: must be true or false, not 'yes'"),
    (with_nets(minimal(), lan={'management': True}, b={'type': 'bridge', 'dhcp': {'start': 2, 'end': 3}}),
     'nets.b.dhcp: a bridge net has no addresses'),
    (with_nets(minimal(), lan={'gw': '10.0.0.1'}, z={'gw': '10.0.0.1', 'dhcp': {'start': 2, 'end': 9}}),
     'nets.z.gw: subnet 10.0.0.0/24 is already used by net lan'),
    (with_nets(minimal(), lan={'management': True}, z={'dns_domain_name': 'x.local'}),
     'nets.z.dns_domain_name: DNS is served only on the management net (lan)'),
    (with_nets(minimal(), lan={'dns_domain_name': 'bad_domain'}),
     "nets.lan.dns_domain_name: 'bad_domain' is not a valid DNS domain name"),
    (with_nets(minimal(), **{'lan': {}, 'bad net': {}}), "nets.bad net: net name 'bad net' cannot make a valid bridge name"),
    (with_nets(minimal(), lan={'name': 'other'}), "nets.lan.name: 'other' differs from the key 'lan'"),
    # NICs and management
    (minimal(nics=[{'net': 'lan'}, {'net': 'lan2'}]),
     "domains.vm01.nics[1].net: unknown net 'lan2' (nets: lan, storage)"),
    (minimal(nics=[{'net': 'lan'}, {'net': 'storage'}, {'net': 'lan'}]),
     'domains.vm01.nics: two management NICs: nics[0] and nics[2] are both on the management net lan'),
    (minimal(nics=[{'net': 'storage'}]),
     'domains.vm01.nics: the VM has no NIC on the management net lan; add one'),
    (minimal(nics=[]), 'domains.vm01.nics: must be a non-empty list'),
    (minimal(nics=None), 'domains.vm01.nics: a VM needs at least one NIC'),
    (minimal(nics=['lan']), 'domains.vm01.nics[0]: must be a mapping such as {net: lan}, not a string'),
    (minimal(nics=[{'ip': '1.2.3.4'}]), 'domains.vm01.nics[0].net: missing'),
    (minimal(nics=[{'net': 'lan', 'mtu': 9000}]), 'domains.vm01.nics[0].mtu: set mtu on the net'),
    (minimal(management_net='storage'), "domains.vm01.management_net: 'storage' is not the management net lan"),
    # static addresses
    (second_vm(minimal(nics=[{'net': 'lan', 'ip': '192.168.200.99'}]),
               nics=[{'net': 'lan', 'ip': '192.168.200.99'}]),
     'domains.vm02.nics[0].ip: duplicate static IP 192.168.200.99 on net lan: already used by '
     'domains.vm01.nics[0] (VMs vm01 and vm02)'),
    (second_vm(minimal(nics=[{'net': 'lan'}, {'net': 'storage', 'ip': '10.9.9.7'}]),
               nics=[{'net': 'lan'}, {'net': 'storage', 'ip': '10.9.8.7'}]),
     'domains.vm02.nics[1].ip: duplicate static IP 10.9.8.7 on net storage: already used by '
     'domains.vm01.nics[1] (VMs vm01 and vm02)'),
    (with_nets(minimal(nics=[{'net': 'lan', 'ip': '10.0.1.5'}]), lan={'gw': '10.0.0.1'}),
     'domains.vm01.nics[0].ip: 10.0.1.5 is outside the subnet 10.0.0.0/24'),
    (with_nets(minimal(nics=[{'net': 'lan', 'ip': '10.0.0.1'}]), lan={'gw': '10.0.0.1'}),
     'domains.vm01.nics[0].ip: 10.0.0.1 is the gateway of 10.0.0.0/24'),
    (minimal(nics=[{'net': 'lan', 'ip': '192.168.1.1'}]),
     'domains.vm01.nics[0].ip: 192.168.1.1: .1 is the gateway of the leased subnet; use 2 to 254'),
    (minimal(nics=[{'net': 'lan', 'ip': 'lan-ip'}]), "domains.vm01.nics[0].ip: 'lan-ip' is not an IPv4 address"),
    (with_nets(minimal(nics=[{'net': 'lan'}, {'net': 'br', 'ip': '10.0.0.5'}]),
               lan={'management': True}, br={'type': 'bridge'}),
     'domains.vm01.nics[1].ip: net br is a bridge net; its NICs get no address'),
    # memory, vcpu and other domain keys
    (minimal(memory='lots'), "domains.vm01.memory: must be an integer, not 'lots'"),
    (minimal(memory=True), 'domains.vm01.memory: must be an integer, not True'),
    (minimal(memory=1.5), 'domains.vm01.memory: must be an integer, not 1.5'),
    (minimal(vcpu=0), 'domains.vm01.vcpu: 0 vCPUs: a VM has 1 to 255'),
    (minimal(cpu=2), "domains.vm01.cpu: unknown key (did you mean 'vcpu'?)"),
    (minimal(nested=True), 'domains.vm01.nested: unknown key'),
    (minimal(type='ova'), "domains.vm01.type: Lago's OVA import (type: ova) is not supported"),
    (minimal(url='http://x/y.ova'), "domains.vm01.url: Lago's OVA import (url) is not supported"),
    (minimal(service_class='SystemdService'), 'domains.vm01.service_class: was deprecated by Lago'),
    (minimal(snapshots={}), "domains.vm01.snapshots: is Lago's run-time state"),
    (minimal(**{'vm-provider': 'ssh'}), "domains.vm01.vm-provider: only local-libvirt is supported, not 'ssh'"),
    (minimal(cpu_model='SandyBridge', cpu_custom={'model': 'x'}),
     'domains.vm01.cpu_custom: cpu_model and cpu_custom cannot both be set'),
    (minimal(groups=[1]), 'domains.vm01.groups[0]: must be a non-empty string, not 1'),
    (minimal(groups={'a': 1}), 'domains.vm01.groups: must be a list or a string, not a mapping'),
    (minimal(artifacts='/var/log'), 'domains.vm01.artifacts: must be a list, not a string'),
    (minimal(metadata=['x']), 'domains.vm01.metadata: must be a mapping, not a list'),
    (minimal(metadata={'deploy-scripts': 'x.sh'}), 'domains.vm01.metadata.deploy-scripts: must be a list'),
    (minimal(metadata={'deploy-scripts': [], 'ovirt-scripts': []}),
     'domains.vm01.metadata.ovirt-scripts: set deploy-scripts or its old name ovirt-scripts, not both'),
    (minimal(metadata={'when': {1, 2}}), 'domains.vm01.metadata.when: must be plain data'),
    (minimal(bootstrap='no'), "domains.vm01.bootstrap: must be true or false, not 'no'"),
    (minimal(name='vm02'), "domains.vm01.name: 'vm02' differs from the key 'vm01'"),
    (minimal(**{'based-on': {'based-on': {}}}),
     'domains.vm01.based-on.based-on: a prototype cannot itself be based on another one'),
    # disks
    (minimal(disks=[{'type': 'template', 'template_name': 't', 'bogus': 1}]),
     'domains.vm01.disks[0].bogus: unknown key'),
    (minimal(disks=[{'type': 'template', 'template_name': 't', 'build': []}]),
     "domains.vm01.disks[0].build: Lago's build step (virt-customize) is not supported"),
    (minimal(disks=[{'template_name': 't'}]),
     'domains.vm01.disks[0].type: must be one of template, empty, file, not None'),
    (minimal(disks=[{'type': 'template'}]), 'domains.vm01.disks[0].template_name: missing'),
    (minimal(disks=[{'type': 'template', 'template_type': 'qcow2'}]), 'domains.vm01.disks[0].path: missing'),
    (minimal(disks=[{'type': 'template', 'template_type': 'ova', 'template_name': 't'}]),
     "domains.vm01.disks[0].template_type: must be one of lago, qcow2, pool, not 'ova'"),
    (minimal(disks=[{'type': 'template', 'template_name': 't', 'path': '/x'}]),
     'domains.vm01.disks[0].path: a template disk takes its image from the template store'),
    (minimal(disks=[{'type': 'template', 'template_name': 't', 'format': 'raw'}]),
     "domains.vm01.disks[0].format: must be qcow2 for this disk, not 'raw'"),
    (minimal(disks=[{'type': 'template', 'template_name': 't', 'size': '10G'}]),
     'domains.vm01.disks[0].size: applies to empty disks only, not to template disks'),
    (minimal(disks=[{'type': 'empty'}]), 'domains.vm01.disks[0].size: missing'),
    (minimal(disks=[{'type': 'empty', 'size': 10}]),
     'domains.vm01.disks[0].size: 10 is less than 1 MiB; a bare number means bytes'),
    (minimal(disks=[{'type': 'empty', 'size': 'ten gigs'}]),
     "domains.vm01.disks[0].size: 'ten gigs' is not a size: give bytes or a number with a K, M, G or T suffix"),
    (minimal(disks=[{'type': 'empty', 'size': '0.99M'}]),
     "domains.vm01.disks[0].size: '0.99M' is less than 1 MiB"),
    (minimal(disks=[{'type': 'empty', 'size': -5}]), 'domains.vm01.disks[0].size: -5: a size cannot be negative'),
    (minimal(disks=[{'type': 'empty', 'size': 1.5}]), 'domains.vm01.disks[0].size: 1.5 is not a size'),
    (minimal(disks=[{'type': 'empty', 'size': '1G', 'path': '/x'}]),
     'domains.vm01.disks[0].path: applies to file and template disks only, not to empty disks'),
    (minimal(disks=[{'type': 'file'}]), 'domains.vm01.disks[0].path: missing'),
    (minimal(disks=[{'type': 'template', 'template_name': 't'}, {'type': 'empty', 'size': '1G', 'name': 'vda'}]),
     "domains.vm01.disks[1].name: disk name 'vda' is already used by disks[0]"),
    (minimal(disks=[{'type': 'empty', 'size': '1G', 'dev': 'sda'}, {'type': 'empty', 'size': '1G', 'dev': 'sda'}]),
     'domains.vm01.disks[1].dev: sda is already used by disks[0]'),
    (minimal(disks=[{'type': 'empty', 'size': '1G', 'dev': 'eth0'}]),
     "domains.vm01.disks[0].dev: 'eth0' is not a disk device name"),
    (minimal(disks=[{'type': 'empty', 'size': '1G', 'name': 'a/b'}]),
     "domains.vm01.disks[0].name: invalid disk name 'a/b'"),
    (minimal(disks=[]), 'domains.vm01.disks: must be a non-empty list of disks'),
    (minimal(disks=None), 'domains.vm01.disks: a VM needs at least one disk'),
    # top level
    ({'domains': {}}, 'nets: missing'),
    ({'domains': {}, 'nets': {'lan': {}}, 'extra': 1}, 'extra: unknown top-level key'),
    ({'domains': [], 'nets': {'lan': {}}}, 'domains: must be a mapping, not a list'),
    ([], 'init file: must be a mapping, not a list'),
]


@pytest.mark.parametrize('raw, expected', BAD_SPECS, ids=[expected.split(':')[0] for _raw, expected in BAD_SPECS])
def test_bad_input_names_its_place(raw, expected):
    assert error_of(raw).startswith(expected)


@pytest.mark.parametrize('name', ['vm_01', 'vm.01', '-vm', 'vm-', 'a' * 64, 'vm 01', 'vm01\n'])
def test_invalid_vm_names(name):
    raw = minimal()
    raw['domains'] = {name: raw['domains']['vm01']}
    assert error_of(raw).startswith('domains.%s: invalid VM name %r: it must be a valid host name' % (name, name))


@pytest.mark.parametrize('name', ['VM01', 'a', 'a' * 63, 'host-0', '0host'])
def test_valid_vm_names(name):
    raw = minimal()
    raw['domains'] = {name: raw['domains']['vm01']}
    assert list(normalize_spec(raw)['domains']) == [name]


def test_vm_names_differing_only_in_case():
    raw = minimal()
    raw['domains']['VM01'] = raw['domains']['vm01']
    assert error_of(raw) == 'domains.vm01: the same host name as domains.VM01 (host names ignore case)'


# ---------------------------------------------------------------------------
# spec_diff

@pytest.fixture
def base_spec():
    raw = minimal(disks=[{'type': 'template', 'template_name': 't', 'name': 'root'}])
    return normalize_spec(second_vm(raw, nics=[{'net': 'lan'}]))


def test_diff_of_equal_specs_is_empty(base_spec):
    assert spec_diff(base_spec, copy.deepcopy(base_spec)) == {
        'changed': False,
        'vms': {'added': [], 'removed': [], 'changed': {}},
        'nets': {'added': [], 'removed': [], 'changed': {}},
    }


def test_diff_from_nothing_adds_everything(base_spec):
    diff = spec_diff(None, base_spec)
    assert diff['changed'] is True
    assert diff['vms']['added'] == ['vm01', 'vm02'] and diff['nets']['added'] == ['lan', 'storage']


def test_diff_of_vms_and_disks(base_spec):
    new = copy.deepcopy(base_spec)
    del new['domains']['vm02']
    new['domains']['vm03'] = base_spec['domains']['vm02']
    vm = new['domains']['vm01']
    vm['memory'] = 2048
    vm['disks'][0]['template_version'] = 'v2'
    vm['disks'].append({'name': 'data', 'dev': 'vdb', 'type': 'empty', 'format': 'qcow2', 'size': 1 << 30})
    diff = spec_diff(base_spec, new)
    assert diff['changed'] is True
    assert diff['vms'] == {
        'added': ['vm03'],
        'removed': ['vm02'],
        'changed': {'vm01': {'keys': ['disks', 'memory'],
                             'disks': {'added': ['data'], 'removed': [], 'changed': {'root': ['template_version']}}}},
    }
    assert diff['nets'] == {'added': [], 'removed': [], 'changed': {}}


def test_diff_of_nets(base_spec):
    new = copy.deepcopy(base_spec)
    new['nets']['storage']['mtu'] = 9000
    new['nets']['storage']['gw'] = '10.0.0.1'
    new['nets']['backup'] = new['nets'].pop('lan')
    diff = spec_diff(base_spec, new)
    assert diff['nets'] == {'added': ['backup'], 'removed': ['lan'], 'changed': {'storage': ['gw', 'mtu']}}
    assert diff['vms']['changed'] == {}


# ---------------------------------------------------------------------------
# The value rules as the init file uses them (the rules themselves: test_values.py)

def test_dhcp_ends_may_be_addresses():
    raw = minimal()
    raw['nets'] = {'lan': {'gw': '10.0.0.1', 'dhcp': {'start': '10.0.0.50', 'end': 60}},
                   'storage': {'dhcp': {'start': '192.168.9.20', 'end': '30'}}}
    nets = normalize_spec(raw)['nets']
    assert nets['lan']['dhcp'] == {'start': 50, 'end': 60}
    # Without gw the subnet is leased: only the last octet counts, as for static addresses.
    assert nets['storage']['dhcp'] == {'start': 20, 'end': 30}


def test_fractional_sizes_round_up_to_a_byte():
    raw = minimal(disks=[{'type': 'empty', 'size': '1.0000001M'}, {'type': 'empty', 'size': '2.5GiB'}])
    assert [disk['size'] for disk in normalize_spec(raw)['domains']['vm01']['disks']] == [1048577, 2684354560]


def test_default_devs_after_the_last_letter():
    raw = minimal(disks=[{'type': 'empty', 'size': '1G', 'dev': 'vdz'}, {'type': 'empty', 'size': '1G'}])
    assert [disk['dev'] for disk in normalize_spec(raw)['domains']['vm01']['disks']] == ['vdz', 'vda']


def test_a_disk_name_with_a_dot_is_refused_naming_the_key():
    # web01's disk root.s1 would be images/web01_root.s1.qcow2: the running overlay of disk
    # root once snapshot s1 is taken (prefix_state.Layout image and overlay), which its
    # creation would overwrite.
    raw = minimal(disks=[{'type': 'template', 'template_name': 'debian12', 'name': 'root'},
                         {'type': 'empty', 'size': '1G', 'name': 'root.s1'}])
    raw['domains'] = {'web01': raw['domains']['vm01']}
    message = error_of(raw)
    assert message.startswith("domains.web01.disks[1].name: invalid disk name 'root.s1'")
    assert '"." is refused' in message


@pytest.mark.parametrize('key, value, fragment', [
    ('memory', 0, 'domains.vm01.memory: 0 MiB: a VM needs memory'),
    ('memory', -512, 'domains.vm01.memory: -512 MiB: a VM needs memory'),
    ('memory', 4194304 + 1, 'domains.vm01.memory: 4194305 MiB is more than 1048576 MiB (1 TiB)'),
    ('memory', 4 * GIB, 'domains.vm01.memory: %d MiB is more than 1048576 MiB' % (4 * GIB)),
    ('vcpu', 0, 'domains.vm01.vcpu: 0 vCPUs: a VM has 1 to 255'),
    ('vcpu', -1, 'domains.vm01.vcpu: -1 vCPUs: a VM has 1 to 255'),
    ('vcpu', 256, 'domains.vm01.vcpu: 256 vCPUs: a VM has 1 to 255'),
    ('vcpu', 4096, 'domains.vm01.vcpu: 4096 vCPUs: a VM has 1 to 255'),
])
def test_memory_and_vcpu_have_bounds_named_with_the_key_and_value(key, value, fragment):
    assert error_of(minimal(**{key: value})).startswith(fragment)


def test_the_largest_memory_and_vcpu_are_accepted():
    vm = normalize_spec(minimal(memory=1048576, vcpu=255))['domains']['vm01']
    assert (vm['memory'], vm['vcpu']) == (1048576, 255)


@pytest.mark.parametrize('location, fragment', [
    ('-oProxyCommand=touch x:/srv/pool/s1', "pool state '-oProxyCommand=touch x:/srv/pool/s1' starts with \"-\""),
    ('me@host:-srv/pool/s1', "pool state 'me@host:-srv/pool/s1': its path '-srv/pool/s1' starts with \"-\""),
])
def test_a_pool_disk_location_ssh_would_take_for_an_option_is_refused(location, fragment):
    raw = minimal(disks=[{'type': 'template', 'template_type': 'pool', 'path': location}])
    assert error_of(raw) == ('domains.vm01.disks[0].path: %s, which ssh, rsync and other commands would take for an '
                             'option' % fragment + ('; write ./%s for a local directory of that name' % location
                                                    if location.startswith('-') else ''))
