# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CPU a VM gets: Lago's ``cpu_model`` and ``cpu_custom``, checked against what the
hypervisor's libvirt offers (its domain capabilities) and turned into the domain's
``<cpu>`` element.

- ``cpu_model: host-passthrough`` / ``host-model``: that libvirt CPU mode.
- ``cpu_model: <name>`` (``Westmere``, ``qemu64``, ...): that model, exactly
  (``<cpu mode='custom' match='exact'><model fallback='forbid'>``), as Lago did.
- ``cpu_custom``: the ``<cpu>`` element written as a mapping, as Lago took it
  (xmltodict's form): ``@name`` keys are attributes, ``#text`` the text, other
  keys child elements (a list repeats one).
- neither: host-passthrough under KVM, qemu's default CPU under TCG.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.lago.lago.plugins.module_utils.values import fail

try:
    from lxml import etree
except ImportError:  # reported by the modules (the runtime checks libraries)
    etree = None

CPU_MODES = ('host-passthrough', 'host-model')
CUSTOM_MODES = ('custom', 'host-model', 'host-passthrough', 'maximum')
_MODEL_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$')
_XML_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_.-]{0,63}$')
_SCALARS = (str, int, float, bool)
MAX_DEPTH = 8


# ------------------------------------------------------------------ the init file's values

def check_model(value, place):
    """``cpu_model``: a libvirt CPU mode or the name of a CPU model."""
    if not isinstance(value, str) or not _MODEL_NAME.match(value):
        fail(place, 'must be host-passthrough, host-model or a CPU model name such as Westmere or qemu64 '
                    '(letters, digits, _ . + -), not %r' % (value,))
    return value


def check_custom(value, place, depth=0):
    """``cpu_custom``: the ``<cpu>`` element as a mapping (attributes ``@name``, text ``#text``,
    children by name). Returned as plain data."""
    if depth > MAX_DEPTH:
        fail(place, 'nested too deeply for a <cpu> element')
    if not isinstance(value, dict):
        fail(place, 'must be a mapping (the <cpu> element: @attributes, #text, child elements), not %r' % (value,))
    for key, item in value.items():
        where = '%s.%s' % (place, key)
        if key == '#text' or (isinstance(key, str) and key.startswith('@')):
            if key != '#text' and not _XML_NAME.match(key[1:]):
                fail(where, 'is not an XML attribute name')
            if not isinstance(item, _SCALARS):
                fail(where, 'must be a string or a number, not %r' % (item,))
        elif not isinstance(key, str) or not _XML_NAME.match(key):
            fail(where, 'is not an XML element name')
        else:
            for index, child in enumerate(item if isinstance(item, list) else [item]):
                child_place = '%s[%d]' % (where, index) if isinstance(item, list) else where
                if not isinstance(child, _SCALARS):
                    check_custom(child, child_place, depth + 1)
    if depth == 0 and value.get('@mode', 'custom') not in CUSTOM_MODES:
        fail(place + '.@mode', 'must be one of %s, not %r' % (', '.join(CUSTOM_MODES), value['@mode']))
    return dict(value)


# ------------------------------------------------------------------ the hypervisor

def capabilities(conn, virt_type, arch='x86_64', machine='pc'):
    """What libvirt offers for a VM's CPU: {'modes': {mode: supported}, 'models': {name: usable}}."""
    caps = etree.fromstring(conn.getDomainCapabilities(None, arch, machine, virt_type).encode('utf-8'))
    modes, models = {}, {}
    for mode in caps.findall('cpu/mode'):
        modes[mode.get('name')] = mode.get('supported') == 'yes'
        if mode.get('name') == 'custom':
            for model in mode.findall('model'):
                models[model.text] = model.get('usable') != 'no'
    return {'modes': modes, 'models': models}


def problems(caps, vm_spec, place, virt_type):
    """What in the VM's cpu_model / cpu_custom the hypervisor cannot give, as messages after ``place``."""
    found = []
    if 'cpu_model' in vm_spec:
        key, mode, model = 'cpu_model', _mode_of_model(vm_spec['cpu_model']), vm_spec['cpu_model']
    elif 'cpu_custom' in vm_spec:
        key, mode, model = 'cpu_custom', vm_spec['cpu_custom'].get('@mode', 'custom'), _custom_model(vm_spec['cpu_custom'])
    else:
        return found
    where = '%s.%s' % (place, key)
    if mode != 'custom' and not caps['modes'].get(mode):
        why = (' (TCG emulates the CPU: there is no host CPU to pass through)'
               if mode == 'host-passthrough' and virt_type == 'qemu' else '')
        found.append('%s: %s is not possible with virt_type %s%s; libvirt offers %s' % (
            where, mode, virt_type, why, _offered(caps)))
    elif mode == 'custom' and model is not None:
        if model not in caps['models']:
            found.append('%s: libvirt knows no CPU model %r for virt_type %s; it offers %s'
                         % (where, model, virt_type, _offered(caps)))
        elif not caps['models'][model]:
            found.append('%s: CPU model %s is not usable with virt_type %s on this host (it lacks some of its '
                         'features); it offers %s' % (where, model, virt_type, _offered(caps)))
    return found


def _mode_of_model(cpu_model):
    return cpu_model if cpu_model in CPU_MODES else 'custom'


def _custom_model(cpu_custom):
    model = cpu_custom.get('model')
    if isinstance(model, dict):
        model = model.get('#text')
    return model if isinstance(model, str) else None


def _offered(caps):
    modes = [mode for mode in CPU_MODES if caps['modes'].get(mode)]
    usable = sorted(name for name, ok in caps['models'].items() if ok)
    return '%s and the models %s' % (', '.join(modes) or 'no CPU mode', ', '.join(usable) or 'none')


# ------------------------------------------------------------------ the domain XML

def cpu_element(cpu_model=None, cpu_custom=None, virt_type='kvm'):
    """The domain's ``<cpu>`` element for the VM's choice, or None (qemu's default CPU)."""
    if cpu_custom is not None:
        return _element('cpu', cpu_custom)
    if cpu_model in CPU_MODES:
        return etree.Element('cpu', mode=cpu_model)
    if cpu_model:
        node = etree.Element('cpu', mode='custom', match='exact')
        etree.SubElement(node, 'model', fallback='forbid').text = cpu_model
        return node
    if virt_type == 'kvm':
        return etree.Element('cpu', mode='host-passthrough')
    return None


def _element(tag, value):
    node = etree.Element(tag)
    if not isinstance(value, dict):
        node.text = _text(value)
        return node
    for key, item in value.items():
        if key == '#text':
            node.text = _text(item)
        elif key.startswith('@'):
            node.set(key[1:], _text(item))
        else:
            for child in item if isinstance(item, list) else [item]:
                node.append(_element(key, child))
    return node


def _text(value):
    if isinstance(value, bool):
        return 'yes' if value else 'no'
    return str(value)
