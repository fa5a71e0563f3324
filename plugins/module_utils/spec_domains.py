# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``domains:`` (VMs) of an init file and their NICs, validated and
normalized (see docs/INIT_FILE.md); their disks are in spec_disks."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.lago.lago.plugins.module_utils import domain_cpu, values
from ansible_collections.lago.lago.plugins.module_utils.spec_checks import (
    Problems, boolean, check_keys, check_own_name, integer, mapping, plain_mapping, required_list, text, text_list,
    type_name)
from ansible_collections.lago.lago.plugins.module_utils.spec_disks import normalize_disks
from ansible_collections.lago.lago.plugins.module_utils.spec_nets import net_subnet
from ansible_collections.lago.lago.plugins.module_utils.values import fail

DEFAULT_MEMORY_MIB = 1024
DEFAULT_VCPU = 1
# memory is in MiB: more than 1 TiB for a lab VM is surely a value in KiB or bytes.
MAX_MEMORY_MIB = 1024 * 1024
# The VMs use qemu's "pc" machine (domain.build_domain_xml), which takes at most 255 vCPUs.
MAX_VCPU = 255
DEFAULT_VM_TYPE = 'default'
DEFAULT_SSH_USER = 'root'
DOMAIN_KEYS = (
    'memory', 'vcpu', 'cpu_model', 'cpu_custom', 'nics', 'disks', 'metadata',
    'artifacts', 'groups', 'vm-type', 'vm-provider', 'service_provider',
    'root-password', 'ssh-user', 'distro', 'bootstrap',
    'boot_time_sec', 'based-on', 'management_net', 'name', 'comment', 'hypervisor',
)
NIC_KEYS = ('net', 'ip', 'comment')
SUPPORTED_VM_PROVIDER = 'local-libvirt'


def _apply_prototype(raw, place):
    """Lago's 'based-on': keys the VM does not set are taken from that mapping."""
    if 'based-on' not in raw:
        return raw
    prototype = mapping(raw.pop('based-on'), place + '.based-on')
    if 'based-on' in prototype:
        fail(place + '.based-on.based-on', 'a prototype cannot itself be based on another one')
    merged = dict(prototype)
    merged.update(raw)
    return merged


def normalize_domain(name, raw, place, nets, management, paths):
    """VM ``name``, normalized. ``nets`` maps net names to normalized nets (None for
    a net with problems) or is None when the nets could not be read; ``management``
    is the management net's name, or None when it is not known."""
    values.vm_name(name, place)
    raw = _apply_prototype(mapping(raw, place), place)
    problems = Problems()
    check = problems.check
    check(check_keys, raw, place, DOMAIN_KEYS, 'domain')
    check(check_own_name, raw, name, place)
    check(_check_vm_provider, raw, place)
    domain = {
        'memory': check(_memory, raw.get('memory', DEFAULT_MEMORY_MIB), place + '.memory'),
        'vcpu': check(_vcpu, raw.get('vcpu', DEFAULT_VCPU), place + '.vcpu'),
        'nics': check(_normalize_nics, raw.get('nics'), place + '.nics', nets),
        'management_net': management,
    }
    if domain['nics'] is not None and management is not None:
        check(_check_management_nic, domain['nics'], raw, place, management)
    domain.update({
        'disks': check(normalize_disks, raw.get('disks'), place + '.disks',
                       paths.on_hypervisor(raw.get('hypervisor') if isinstance(raw.get('hypervisor'), str) else None)),
        'metadata': check(_normalize_metadata, raw.get('metadata', {}), place + '.metadata', paths),
        'artifacts': sorted(set(check(text_list, raw.get('artifacts', []), place + '.artifacts') or [])),
        'groups': sorted(set(check(text_list, raw.get('groups', []), place + '.groups', single=True) or [])),
        'vm-type': check(text, raw.get('vm-type', DEFAULT_VM_TYPE), place + '.vm-type'),
        'ssh-user': check(text, raw.get('ssh-user', DEFAULT_SSH_USER), place + '.ssh-user'),
        'bootstrap': check(boolean, raw.get('bootstrap', True), place + '.bootstrap'),
    })
    domain.update(check(_optional_domain_keys, raw, place) or {})
    problems.raise_found()
    return domain


def _memory(value, place):
    memory = integer(value, place)
    if memory < 1:
        fail(place, '%d MiB: a VM needs memory (at least 1 MiB; 1024 is 1 GiB)' % memory)
    if memory > MAX_MEMORY_MIB:
        fail(place, '%d MiB is more than %d MiB (1 TiB), the most a lab VM gets: memory is in MiB (write 4096 '
                    'for 4 GiB, not a value in KiB or bytes)' % (memory, MAX_MEMORY_MIB))
    return memory


def _vcpu(value, place):
    vcpu = integer(value, place)
    if not 1 <= vcpu <= MAX_VCPU:
        fail(place, '%d vCPUs: a VM has 1 to %d (the most qemu\'s pc machine takes)' % (vcpu, MAX_VCPU))
    return vcpu


def _check_vm_provider(raw, place):
    provider = raw.get('vm-provider', SUPPORTED_VM_PROVIDER)
    if provider != SUPPORTED_VM_PROVIDER:
        fail(place + '.vm-provider', 'only %s is supported, not %r' % (SUPPORTED_VM_PROVIDER, provider))


def _optional_domain_keys(raw, place):
    """Lago keys that have no default here: present only when set."""
    problems = Problems()
    optional = {}
    for key in ('distro', 'service_provider'):
        if key in raw:
            optional[key] = problems.check(text, raw[key], '%s.%s' % (place, key))
    if 'root-password' in raw:
        optional['root-password'] = problems.check(_root_password, raw, place + '.root-password')
    if 'cpu_model' in raw:
        optional['cpu_model'] = problems.check(domain_cpu.check_model, raw['cpu_model'], place + '.cpu_model')
    if 'cpu_custom' in raw:
        if 'cpu_model' in raw:
            problems.check(fail, place + '.cpu_custom', 'cpu_model and cpu_custom cannot both be set (as in Lago)')
        optional['cpu_custom'] = problems.check(domain_cpu.check_custom, raw['cpu_custom'], place + '.cpu_custom')
    if 'boot_time_sec' in raw:
        optional['boot_time_sec'] = problems.check(integer, raw['boot_time_sec'], place + '.boot_time_sec', 1)
    if raw.get('hypervisor') is not None:
        # Whether the name is one of the inventory's hypervisors is placement's
        # question (placement.check_pins): the file is read without the inventory.
        optional['hypervisor'] = problems.check(values.hypervisor_name, raw['hypervisor'], place + '.hypervisor')
    problems.raise_found()
    return optional


def _root_password(raw, place):
    """root's password (YAML numbers such as 123456 become text), set through the seed;
    kept as given here (clear or a crypt hash): spec_secrets hashes it before it is saved."""
    password = raw['root-password']
    if isinstance(password, (int, float)) and not isinstance(password, bool):
        password = str(password)
    if not isinstance(password, str) or not password:
        # Not the value: it may be a secret.
        fail(place, 'must be a non-empty string (a password, or its crypt hash), not a %s' % type_name(password))
    if raw.get('bootstrap') is False:
        fail(place, 'is set through the NoCloud seed, and bootstrap: false attaches none: '
                    'remove root-password or bootstrap: false')
    return password


def _normalize_nics(value, place, nets):
    value = required_list(value, place, 'a VM needs at least one NIC, on the management net', '{net, ip}')
    problems = Problems()
    nics = [problems.check(_normalize_nic, raw, '%s[%d]' % (place, index), nets) for index, raw in enumerate(value)]
    problems.raise_found()
    return nics


def _normalize_nic(raw, place, nets):
    if isinstance(raw, str):
        fail(place, 'must be a mapping such as {net: %s}, not a string' % raw)
    raw = mapping(raw, place)
    problems = Problems()
    problems.check(check_keys, raw, place, NIC_KEYS, 'nic')
    nic = {'net': None, 'ip': None}
    if 'net' not in raw:
        problems.check(fail, place + '.net', 'missing: every NIC names its net')
    else:
        nic['net'] = problems.check(text, raw['net'], place + '.net')
    if nic['net'] is not None and nets is not None:
        if nic['net'] not in nets:
            problems.check(fail, place + '.net', 'unknown net %r (nets: %s)' % (nic['net'], ', '.join(sorted(nets))))
        elif 'ip' in raw and nets[nic['net']] is not None:
            nic['ip'] = problems.check(_static_ip, raw['ip'], place + '.ip', nic['net'], nets[nic['net']])
    problems.raise_found()
    return nic


def _static_ip(value, place, net_name, net):
    """A static address: with a gw it must lie in the gw's /24; without, only its last
    octet counts (Lago moved it into the leased subnet). Kept as written."""
    if net['type'] != 'nat':
        fail(place, 'net %s is a bridge net; its NICs get no address' % net_name)
    subnet = net_subnet(net)
    values.host_address(value, subnet, place, move=subnet is values.UNLEASED, octets=False)
    return str(values.ipv4(value, place))


def _check_management_nic(nics, raw, place, management):
    on_management = [index for index, nic in enumerate(nics) if nic['net'] == management]
    if not on_management:
        fail(place + '.nics', 'the VM has no NIC on the management net %s; add one' % management)
    if len(on_management) > 1:
        fail(place + '.nics', 'two management NICs: nics[%d] and nics[%d] are both on the management net %s'
             % (on_management[0], on_management[1], management))
    if raw.get('management_net', management) != management:
        fail(place + '.management_net', '%r is not the management net %s' % (raw['management_net'], management))


def _normalize_metadata(value, place, paths):
    metadata = plain_mapping(value, place)
    if 'ovirt-scripts' in metadata:
        # Lago's deprecated name for deploy-scripts.
        if 'deploy-scripts' in metadata:
            fail(place + '.ovirt-scripts', 'set deploy-scripts or its old name ovirt-scripts, not both')
        metadata['deploy-scripts'] = metadata.pop('ovirt-scripts')
        scripts_place = place + '.ovirt-scripts'
    else:
        scripts_place = place + '.deploy-scripts'
    scripts = text_list(metadata.get('deploy-scripts', []), scripts_place)
    # Order matters: scripts run one after the other.
    problems = Problems()
    metadata['deploy-scripts'] = [
        problems.check(paths.resolve, script, '%s[%d]' % (scripts_place, index), what='deploy script')
        for index, script in enumerate(scripts)]
    problems.raise_found()
    return metadata
