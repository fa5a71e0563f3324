# -*- coding: utf-8 -*-
"""prefix_view: the prefix as the modules return it, from its records and libvirt."""

from __future__ import absolute_import, division, print_function

from ansible_collections.lago.lago.plugins.module_utils import prefix_view
from ansible_collections.lago.lago.plugins.module_utils.prefix_state import Layout, PrefixState
from ansible_collections.lago.lago.tests.unit.plugins.fake_libvirt import FakeConn

VM = dict(libvirt_name='abc-vm01', address='192.168.200.2', management_net='lan', vm_type='default',
          groups=['web'], memory=512, vcpu=1, ssh_user='root',
          nics=[dict(net='lan', mac='54:52:c0:a8:c8:02', ip='192.168.200.2'), dict(net='l2', mac='54:52:00:00:00:01')],
          disks=[dict(name='root', dev='vda', path='/p/images/vm01_root.qcow2', format='qcow2', type='template',
                      store_entry='lab:debian12:r1')])


def state_of(tmp_path):
    state = PrefixState.new(Layout(str(tmp_path / 'p')), uuid='abc' + '0' * 29, short_id='abc', virt_type='qemu')
    state.add_vm('vm01', dict(VM))
    state.add_net('lan', dict(libvirt_name='abc-lan', bridge='abc-lan', type='nat', subnet='192.168.200.0/24',
                              gateway='192.168.200.1', management=True, dns_domain='lago.local'))
    return state


def test_describe_without_libvirt(tmp_path):
    described = prefix_view.describe(state_of(tmp_path))
    assert described['path'] == str(tmp_path / 'p') and described['ssh_key'] == str(tmp_path / 'p' / 'id_rsa')
    assert described['virt_type'] == 'qemu' and described['short_id'] == 'abc'
    vm = described['vms']['vm01']
    assert vm['addresses'] == {'lan': '192.168.200.2', 'l2': None}
    assert vm['macs'] == {'lan': '54:52:c0:a8:c8:02', 'l2': '54:52:00:00:00:01'}
    assert vm['disks'] == [dict(name='root', dev='vda', path='/p/images/vm01_root.qcow2', format='qcow2', type='template')]
    assert 'state' not in vm and 'state' not in described['nets']['lan']
    assert described['nets']['lan']['gateway'] == '192.168.200.1' and described['nets']['lan']['management'] is True


def test_describe_with_libvirt_gives_live_states(tmp_path):
    conn = FakeConn()
    described = prefix_view.describe(state_of(tmp_path), conn)
    assert described['vms']['vm01']['state'] == 'absent' and described['nets']['lan']['state'] == 'absent'
    conn.defineXML('<domain><name>abc-vm01</name></domain>').running = True
    conn.networkDefineXML('<network><name>abc-lan</name></network>')
    described = prefix_view.describe(state_of(tmp_path), conn)
    assert described['vms']['vm01']['state'] == 'running' and described['nets']['lan']['state'] == 'inactive'
