# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A battery of bad init files: each is refused with an error that starts with the
offending key's place (``domains.vm01.disks[1].dev: ...``) and says what is wrong.

Raw specs go through spec_normalize.normalize_spec, files through
spec_normalize.load_init_file (spec_read reads them); every case gives the
exact start of the message (the place) and a fragment it must contain.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy

import pytest

from ansible_collections.lago.lago.plugins.module_utils.errors import SpecError
from ansible_collections.lago.lago.plugins.module_utils.spec_normalize import load_init_file, normalize_spec

TEMPLATE = {'type': 'template', 'template_name': 'debian12'}


def spec(vm=None, nets=None, **more_vms):
    """A valid raw spec, changed: ``vm`` updates vm01, ``nets`` updates the nets
    ({name: None} drops one), ``more_vms`` adds VMs (each updating a copy of vm01's base)."""
    base = {'nics': [{'net': 'lan'}], 'disks': [dict(TEMPLATE)]}
    raw = {'domains': {'vm01': dict(copy.deepcopy(base), **(vm or {}))},
           'nets': {'lan': {'management': True}, 'storage': {'type': 'nat'}}}
    for name, extra in more_vms.items():
        raw['domains'][name] = dict(copy.deepcopy(base), **extra)
    for name, net in (nets or {}).items():
        if net is None:
            raw['nets'].pop(name)
        else:
            raw['nets'][name] = net
    return raw


def disks(*items):
    return spec(vm={'disks': list(items)})


def nics(*items, **nets):
    return spec(vm={'nics': list(items)}, nets=nets)


BAD_SPECS = [
    # --- the top level
    (dict(spec(), vms={}), 'vms: ', 'unknown top-level key'),
    ({'domains': {}}, 'nets: ', 'missing: the init file needs domains: and nets:'),
    (dict(spec(), domains=['vm01']), 'domains: ', 'must be a mapping, not a list'),
    (dict(spec(), nets={}), 'nets: ', 'at least one net is needed'),
    (dict(spec(), nets=[{'lan': {}}]), 'nets: ', 'must be a mapping, not a list'),
    # --- VM names and keys
    ({'domains': {'vm_01': spec()['domains']['vm01']}, 'nets': spec()['nets']}, 'domains.vm_01: ',
     'invalid VM name'),
    ({'domains': {'web.lab': spec()['domains']['vm01']}, 'nets': spec()['nets']}, 'domains.web.lab: ',
     'invalid VM name'),
    ({'domains': {'-vm': spec()['domains']['vm01']}, 'nets': spec()['nets']}, 'domains.-vm: ', 'invalid VM name'),
    (spec(VM01={}), 'domains.vm01: ', 'the same host name as domains.VM01'),
    (spec(vm={'cpus': 2}), 'domains.vm01.cpus: ', "unknown key (did you mean 'vcpu'?)"),
    (spec(vm={'name': 'vm02'}), 'domains.vm01.name: ', "'vm02' differs from the key 'vm01'"),
    (spec(vm={'based-on': {'based-on': {}}}), 'domains.vm01.based-on.based-on: ', 'cannot itself be based on'),
    (spec(vm={'based-on': 'small'}), 'domains.vm01.based-on: ', 'must be a mapping, not a string'),
    (spec(vm={'bootstrap': 'yes'}), 'domains.vm01.bootstrap: ', "must be true or false, not 'yes'"),
    (spec(vm={'groups': ['']}), 'domains.vm01.groups[0]: ', 'must be a non-empty string'),
    (spec(vm={'ssh-user': 7}), 'domains.vm01.ssh-user: ', 'must be a non-empty string, not 7'),
    (spec(vm={'boot_time_sec': 0}), 'domains.vm01.boot_time_sec: ', 'must be at least 1, not 0'),
    (spec(vm={'boot_time_sec': 'long'}), 'domains.vm01.boot_time_sec: ', "must be an integer, not 'long'"),
    # --- the keys Lago took that are applied or refused, never ignored
    (spec(vm={'ssh-password': 'pw'}), 'domains.vm01.ssh-password: ', "logs in with the prefix's SSH key"),
    (spec(vm={'root-password': 'pw', 'bootstrap': False}), 'domains.vm01.root-password: ',
     'bootstrap: false attaches none'),
    (spec(vm={'root-password': ['pw']}), 'domains.vm01.root-password: ', 'must be a non-empty string'),
    (spec(vm={'root-password': ''}), 'domains.vm01.root-password: ', 'must be a non-empty string'),
    (spec(vm={'cpu_model': 'host passthrough'}), 'domains.vm01.cpu_model: ',
     'must be host-passthrough, host-model or a CPU model name'),
    (spec(vm={'cpu_model': 7}), 'domains.vm01.cpu_model: ', 'must be host-passthrough, host-model'),
    (spec(vm={'cpu_custom': 'Westmere'}), 'domains.vm01.cpu_custom: ', 'must be a mapping (the <cpu> element'),
    (spec(vm={'cpu_custom': {'@mode': 'host'}}), 'domains.vm01.cpu_custom.@mode: ',
     'must be one of custom, host-model, host-passthrough, maximum'),
    (spec(vm={'cpu_custom': {'model': {'@fallback': ['a']}}}), 'domains.vm01.cpu_custom.model.@fallback: ',
     'must be a string or a number'),
    (spec(vm={'cpu_custom': {'feature': [{'@name': 'vmx'}, {'bad name': 1}]}}),
     'domains.vm01.cpu_custom.feature[1].bad name: ', 'is not an XML element name'),
    (spec(vm={'metadata': {'deploy-scripts': ['/nowhere/deploy.sh']}}), 'domains.vm01.metadata.deploy-scripts[0]: ',
     'deploy script /nowhere/deploy.sh does not exist'),
    # --- memory and vcpu
    (spec(vm={'memory': '4G'}), 'domains.vm01.memory: ', "must be an integer, not '4G'"),
    (spec(vm={'memory': 0}), 'domains.vm01.memory: ', '0 MiB: a VM needs memory'),
    (spec(vm={'memory': -1024}), 'domains.vm01.memory: ', '-1024 MiB: a VM needs memory'),
    (spec(vm={'memory': 4 * 1024 ** 3}), 'domains.vm01.memory: ', '4294967296 MiB is more than 1048576 MiB (1 TiB)'),
    (spec(vm={'memory': 2.5}), 'domains.vm01.memory: ', 'must be an integer, not 2.5'),
    (spec(vm={'vcpu': 0}), 'domains.vm01.vcpu: ', '0 vCPUs: a VM has 1 to 255'),
    (spec(vm={'vcpu': -2}), 'domains.vm01.vcpu: ', '-2 vCPUs: a VM has 1 to 255'),
    (spec(vm={'vcpu': 4096}), 'domains.vm01.vcpu: ', '4096 vCPUs: a VM has 1 to 255'),
    (spec(vm={'vcpu': '2.5'}), 'domains.vm01.vcpu: ', "must be an integer, not '2.5'"),
    (spec(vm={'vcpu': True}), 'domains.vm01.vcpu: ', 'must be an integer, not True'),
    # --- NICs and addresses
    (spec(vm={'nics': None}), 'domains.vm01.nics: ', 'a VM needs at least one NIC'),
    (spec(vm={'nics': []}), 'domains.vm01.nics: ', 'must be a non-empty list'),
    (nics('lan'), 'domains.vm01.nics[0]: ', 'must be a mapping such as {net: lan}, not a string'),
    (nics({'ip': '192.168.1.5'}), 'domains.vm01.nics[0].net: ', 'missing: every NIC names its net'),
    (nics({'net': 'lan2'}), 'domains.vm01.nics[0].net: ', "unknown net 'lan2'"),
    (nics({'net': 'lan', 'mtu': 9000}), 'domains.vm01.nics[0].mtu: ', 'set mtu on the net'),
    (nics({'net': 'lan', 'mac': '52:54:00:00:00:01'}), 'domains.vm01.nics[0].mac: ', 'unknown key'),
    (nics({'net': 'storage'}), 'domains.vm01.nics: ', 'the VM has no NIC on the management net lan'),
    (nics({'net': 'lan'}, {'net': 'lan'}), 'domains.vm01.nics: ', 'two management NICs'),
    (nics({'net': 'lan', 'ip': 'ten'}), 'domains.vm01.nics[0].ip: ', "'ten' is not an IPv4 address"),
    (nics({'net': 'lan', 'ip': '192.168.1.1'}), 'domains.vm01.nics[0].ip: ', '.1 is the gateway of the leased subnet'),
    (nics({'net': 'lan', 'ip': '192.168.1.255'}), 'domains.vm01.nics[0].ip: ', '.255 is the broadcast address'),
    (nics({'net': 'lan', 'ip': '192.168.1.0'}), 'domains.vm01.nics[0].ip: ', '.0 is the network address'),
    (nics({'net': 'lan', 'ip': '10.0.1.5'}, lan={'management': True, 'gw': '10.0.0.1'}), 'domains.vm01.nics[0].ip: ',
     '10.0.1.5 is outside the subnet 10.0.0.0/24'),
    (nics({'net': 'lan'}, {'net': 'br', 'ip': '10.0.0.5'}, br={'type': 'bridge'}), 'domains.vm01.nics[1].ip: ',
     'net br is a bridge net'),
    (spec(vm={'nics': [{'net': 'lan', 'ip': '192.168.1.7'}]}, vm02={'nics': [{'net': 'lan', 'ip': '192.168.1.7'}]}),
     'domains.vm02.nics[0].ip: ', 'duplicate static IP 192.168.1.7 on net lan'),
    # The same last octet is the same address (and MAC) once the subnet is leased.
    (spec(vm={'nics': [{'net': 'lan', 'ip': '10.1.1.9'}]}, vm02={'nics': [{'net': 'lan', 'ip': '172.16.0.9'}]}),
     'domains.vm02.nics[0].ip: ', 'duplicate static IP 172.16.0.9 on net lan: already used by domains.vm01.nics[0]'),
    # --- nets
    (spec(nets={'my net': {}}), 'nets.my net: ', "net name 'my net' cannot make a valid bridge name"),
    (spec(nets={'storage': {'type': 'routed'}}), 'nets.storage.type: ', "must be one of nat, bridge, not 'routed'"),
    (spec(nets={'storage': {'mtu': 10}}), 'nets.storage.mtu: ', 'must be between 68 and 65535, not 10'),
    (spec(nets={'storage': {'mtu': '9k'}}), 'nets.storage.mtu: ', "must be an integer, not '9k'"),
    (spec(nets={'storage': {'gw': '10.0.0.5'}}), 'nets.storage.gw: ', '10.0.0.5 cannot be the gateway'),
    (spec(nets={'storage': {'gw': 'router'}}), 'nets.storage.gw: ', "'router' is not an IPv4 address"),
    (spec(nets={'storage': {'dhcp': {'start': 200, 'end': 100}}}), 'nets.storage.dhcp: ', 'ends before it starts'),
    (spec(nets={'storage': {'dhcp': {'start': 1, 'end': 100}}}), 'nets.storage.dhcp.start: ', 'is the gateway'),
    (spec(nets={'storage': {'dhcp': {'start': 100, 'end': 300}}}), 'nets.storage.dhcp.end: ', '300 is not a last octet'),
    (spec(nets={'storage': {'dhcp': {'start': 100}}}), 'nets.storage.dhcp: ', 'needs start and end'),
    (spec(nets={'storage': {'dhcp': {'start': 100, 'end': 200, 'lease': 60}}}), 'nets.storage.dhcp.lease: ',
     'unknown key'),
    (spec(nets={'lan': {'management': True, 'gw': '10.0.0.1'}, 'storage': {'gw': '10.0.0.1'}}), 'nets.storage.gw: ',
     'subnet 10.0.0.0/24 is already used by net lan'),
    (spec(nets={'storage': {'management': True}}), 'nets: ', 'more than one net is marked management'),
    (spec(nets={'storage': {'management': 'yes'}}), 'nets.storage.management: ', "must be true or false, not 'yes'"),
    (spec(nets={'lan': {'type': 'bridge', 'management': True}}), 'nets.lan: ', 'the management net must be a nat net'),
    (spec(nets={'storage': {'type': 'bridge', 'gw': '10.0.0.1'}}), 'nets.storage.gw: ', 'a bridge net has no addresses'),
    (spec(nets={'storage': {'dns_domain_name': 'lab.test'}}), 'nets.storage.dns_domain_name: ',
     'DNS is served only on the management net (lan)'),
    (spec(nets={'lan': {'management': True, 'dns_domain_name': 'bad_domain'}}), 'nets.lan.dns_domain_name: ',
     "'bad_domain' is not a valid DNS domain name"),
    (spec(nets={'storage': {'main_dns': 'x'}}), 'nets.storage.main_dns: ', 'is not supported'),
    # --- disks, sizes, devices and templates
    (spec(vm={'disks': None}), 'domains.vm01.disks: ', 'a VM needs at least one disk'),
    (disks(), 'domains.vm01.disks: ', 'must be a non-empty list'),
    (disks({'template_name': 'debian12'}), 'domains.vm01.disks[0].type: ',
     'must be one of template, empty, file, not None'),
    (disks({'type': 'template'}), 'domains.vm01.disks[0].template_name: ', 'missing: a template disk needs'),
    (disks({'type': 'template', 'template_name': ''}), 'domains.vm01.disks[0].template_name: ',
     'must be a non-empty string'),
    (disks(TEMPLATE, {'type': 'empty'}), 'domains.vm01.disks[1].size: ', 'missing: an empty disk needs a size'),
    (disks(TEMPLATE, {'type': 'empty', 'size': '10X'}), 'domains.vm01.disks[1].size: ', "'10X' is not a size"),
    (disks(TEMPLATE, {'type': 'empty', 'size': 512}), 'domains.vm01.disks[1].size: ', '512 is less than 1 MiB'),
    (disks(TEMPLATE, {'type': 'empty', 'size': -1}), 'domains.vm01.disks[1].size: ', 'a size cannot be negative'),
    (disks(TEMPLATE, {'type': 'empty', 'size': '-10G'}), 'domains.vm01.disks[1].size: ', "'-10G' is not a size"),
    (disks(dict(TEMPLATE, size='20G')), 'domains.vm01.disks[0].size: ', 'applies to empty disks only'),
    (disks(TEMPLATE, {'type': 'empty', 'size': '1G', 'format': 'vmdk'}), 'domains.vm01.disks[1].format: ',
     "must be qcow2 or raw for this disk, not 'vmdk'"),
    (disks(dict(TEMPLATE, format='raw')), 'domains.vm01.disks[0].format: ', "must be qcow2 for this disk, not 'raw'"),
    (disks(dict(TEMPLATE, template_type='ova')), 'domains.vm01.disks[0].template_type: ',
     "must be one of lago, qcow2, pool, not 'ova'"),
    (disks(dict(TEMPLATE, dev='xda')), 'domains.vm01.disks[0].dev: ', "'xda' is not a disk device name"),
    (disks(dict(TEMPLATE, dev='vdzzz')), 'domains.vm01.disks[0].dev: ', "'vdzzz' is not a disk device name"),
    (disks(dict(TEMPLATE, dev='vd1')), 'domains.vm01.disks[0].dev: ', "'vd1' is not a disk device name"),
    (disks(dict(TEMPLATE, dev='vdb'), {'type': 'empty', 'size': '1G', 'dev': 'vdb'}), 'domains.vm01.disks[1].dev: ',
     'vdb is already used by disks[0]'),
    (disks(dict(TEMPLATE, name='data'), {'type': 'empty', 'size': '1G', 'name': 'data'}),
     'domains.vm01.disks[1].name: ', "disk name 'data' is already used by disks[0]"),
    (disks(dict(TEMPLATE, name='root'), {'type': 'empty', 'size': '1G', 'name': 'root.s1'}),
     'domains.vm01.disks[1].name: ', '"." is refused'),
    (disks(dict(TEMPLATE, name='-root')), 'domains.vm01.disks[0].name: ', "invalid disk name '-root'"),
    (disks(dict(TEMPLATE, name='a' * 65)), 'domains.vm01.disks[0].name: ', 'at most 64'),
    (disks(TEMPLATE, {'type': 'file', 'path': '/nowhere/disk.img'}), 'domains.vm01.disks[1].path: ',
     'disk image /nowhere/disk.img does not exist'),
    (disks(TEMPLATE, {'type': 'file'}), 'domains.vm01.disks[1].path: ', 'missing: a file disk needs the path'),
    (disks(TEMPLATE, {'type': 'file', 'path': '/etc/hostname', 'make_a_copy': 'yes'}),
     'domains.vm01.disks[1].make_a_copy: ', "must be true or false, not 'yes'"),
    (disks(dict(TEMPLATE, bus='scsi')), 'domains.vm01.disks[0].bus: ', 'unknown key'),
    (disks(dict(TEMPLATE, build=[{'virt-customize': {}}])), 'domains.vm01.disks[0].build: ',
     "Lago's build step (virt-customize) is not supported"),
    (disks(dict(TEMPLATE, template_type='qcow2')), 'domains.vm01.disks[0].path: ',
     'missing: a template_type qcow2 disk needs the path'),
    (disks({'type': 'template', 'template_type': 'pool', 'path': '-oProxyCommand=x:/pool/s1'}),
     'domains.vm01.disks[0].path: ', 'would take for an option'),
    (disks({'type': 'template', 'template_type': 'pool', 'path': '/nowhere/pool/s1'}),
     'domains.vm01.disks[0].path: ', 'pool state /nowhere/pool/s1 does not exist'),
    (disks(*([TEMPLATE] + [{'type': 'empty', 'size': '1M'}] * 702)), 'domains.vm01.disks[702].dev: ',
     'no virtio device name is left: vda to vdzz are all used'),
    (disks('vda'), 'domains.vm01.disks[0]: ', 'must be a mapping, not a string'),
]


@pytest.mark.parametrize('raw, place, fragment', BAD_SPECS,
                         ids=['%d-%s' % (index, place.rstrip(': ')) for index, (_r, place, _f) in enumerate(BAD_SPECS)])
def test_a_bad_init_file_is_refused_naming_the_key(raw, place, fragment):
    with pytest.raises(SpecError) as caught:
        normalize_spec(copy.deepcopy(raw))
    message = str(caught.value)
    # The error must start with the offending key's place and say what is wrong with it.
    assert message.startswith(place), message
    assert fragment in message, message


def test_the_battery_is_large():
    assert len(BAD_SPECS) >= 40


BAD_FILES = [
    ('domains: {vm01: {nics: [{net: lan}]\n', 'not valid YAML (line'),
    ('domains: {}\ndomains: {}\nnets: {lan: {}}\n', "found duplicate key 'domains' (first at line 1)"),
    ('- domains\n- nets\n', 'the init file must be a mapping with domains: and nets:, not a list'),
    ('', 'the init file is empty'),
    ('{"domains": {}, "nets": {"lan": ', 'not valid JSON (line 1'),
    ('a: &a [*a]\n', 'refers to a node that contains it'),
    ('domains: {vm01: {memory: 0, nics: [{net: lan}], disks: [{type: empty, size: 1G}]}}\nnets: {lan: {}}\n',
     'domains.vm01.memory: 0 MiB: a VM needs memory'),
    ('domains: {vm01: {vcpu: 999, nics: [{net: lan}], disks: [{type: empty, size: 1G, name: data.s1}]}}\n'
     'nets: {lan: {}}\n', '2 problems: domains.vm01.vcpu: 999 vCPUs'),
]


@pytest.mark.parametrize('text, fragment', BAD_FILES)
def test_a_bad_init_file_on_disk_is_refused_naming_the_file(tmp_path, text, fragment):
    path = tmp_path / 'LagoInitFile'
    path.write_text(text)
    with pytest.raises(SpecError) as caught:
        load_init_file(str(path))
    # The error must name the file first, then the place (line, key) and the problem.
    assert str(caught.value).startswith('%s: ' % path)
    assert fragment in str(caught.value)
