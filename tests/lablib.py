# -*- coding: utf-8 -*-
"""Helpers for lab tests: throwaway networks, VMs booted from the lab
template, and SSH with strict host-key checking. Everything they create is
registered with a Cleanup so a failing test still leaves nothing behind."""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import time
import uuid

from lxml import etree

from ansible_collections.lago.lago.plugins.module_utils import boot_watch, domain, seed, sshkeys
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import connect, lookup_network


class Cleanup(object):
    """Undo steps run in reverse order; failures are collected, not hidden."""

    def __init__(self):
        self._steps = []

    def add(self, func, *args):
        self._steps.append((func, args))

    def run(self):
        errors = []
        while self._steps:
            func, args = self._steps.pop()
            try:
                func(*args)
            except Exception as err:  # keep undoing the rest
                errors.append('%s%r: %s' % (func.__name__, args, err))
        if errors:
            raise AssertionError('cleanup failed: ' + '; '.join(errors))


def make_nat_network(conn, name, third_octet, cleanup):
    """A transient NAT network 192.168.<third_octet>.0/24 (gateway .1)."""
    root = etree.Element('network')
    etree.SubElement(root, 'name').text = name
    etree.SubElement(root, 'forward', mode='nat')
    etree.SubElement(root, 'bridge', name=name[:15])
    etree.SubElement(root, 'ip', address='192.168.%d.1' % third_octet, netmask='255.255.255.0')
    net = conn.networkCreateXML(etree.tostring(root).decode())
    cleanup.add(_destroy_network, conn, name)
    return net


def _destroy_network(conn, name):
    net = lookup_network(conn, name)
    if net is not None and net.isActive():
        net.destroy()


def overlay(template, path):
    subprocess.check_call(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', template, '-F', 'qcow2', path])
    return path


class BootedVM(object):
    """A lab VM from a template: overlay disk, NoCloud seed, one NIC."""

    def __init__(self, workdir, name, template, network, address, gateway, virt_type='qemu',
                 memory=512, dhcp=False, mac=None, jump=None, mtu=None):
        self.workdir = workdir
        self.jump = jump  # an SSH ProxyJump host (a multi-host lab's hypervisor), or None
        self.name = name
        self.address = address
        self.key = os.path.join(workdir, 'id_rsa')
        if not os.path.exists(self.key):
            sshkeys.generate_keypair(self.key, key_type='ed25519')
        host_private, host_public = sshkeys.make_host_key()
        self.known_hosts = os.path.join(workdir, '%s.known_hosts' % name)
        with open(self.known_hosts, 'w') as handle:
            handle.write(sshkeys.known_hosts_line([address], host_public) + '\n')
        self.mac = mac or '52:54:00:%02x:%02x:%02x' % tuple(uuid.uuid4().bytes[:3])
        # With dhcp the guest asks for its address; ``address`` is where we expect it.
        nic = ({'mac': self.mac, 'dhcp': True} if dhcp else
               {'mac': self.mac, 'address': '%s/24' % address, 'gateway': gateway, 'dns': [gateway]})
        if mtu:
            nic['mtu'] = mtu
        self.console_log = os.path.join(workdir, '%s.console.log' % name)
        disk = overlay(template, os.path.join(workdir, '%s.qcow2' % name))
        files = seed.render_seed(
            hostname=name, instance_id=str(uuid.uuid4()),
            authorized_keys=[sshkeys.read_public_key(self.key + '.pub')],
            nics=[nic],
            host_key=('ed25519', host_private, host_public))
        seed_path = seed.write_seed_image(os.path.join(workdir, '%s-seed.iso' % name), files)
        self.xml = domain.build_domain_xml(
            name, memory, 1,
            disks=[{'path': disk, 'format': 'qcow2', 'dev': 'vda'},
                   {'path': seed_path, 'format': 'raw', 'dev': 'vdb', 'readonly': True}],
            nics=[{'network': network, 'mac': self.mac}],
            virt_type=virt_type, console_log=self.console_log)

    def start(self, conn, cleanup):
        """Start the VM (transient); returns the monotonic start time."""
        started = time.monotonic()
        conn.createXML(self.xml, 0)
        cleanup.add(domain.remove, conn, self.name)
        return started

    def ssh_argv(self, *command):
        return ['ssh', '-i', self.key, '-o', 'UserKnownHostsFile=%s' % self.known_hosts,
                '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes',
                '-o', 'ConnectTimeout=%d' % (10 if self.jump else 3), '-o', 'LogLevel=ERROR'] \
            + (['-o', 'ProxyJump=%s' % self.jump] if self.jump else []) + ['root@%s' % self.address] + list(command)

    def ssh(self, *command, **kwargs):
        return subprocess.run(self.ssh_argv(*command), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=kwargs.get('timeout', 60), check=False)

    def wait_for_ssh(self, timeout=180, conn=None):
        """Poll until an SSH login works; returns the monotonic time it did.

        With ``conn`` (the libvirt connection the VM runs on), a VM whose budget
        ran out is still waited for while it visibly progresses (boot_watch: its
        console grows or it uses CPU, as on a loaded machine), up to four times
        the budget.
        """
        watch = None
        if conn is not None:
            watch = boot_watch.BootWatch({self.name: (conn.lookupByName(self.name), self.console_log)})
        return wait_for_login(self.name, lambda: self.ssh('true', timeout=30), timeout, watch, self.console_log)


def wait_for_login(name, try_login, timeout=180, watch=None, console_log=None):
    """Call ``try_login`` (a completed process) until it succeeds; the monotonic time it did.

    With ``watch`` (a boot_watch.BootWatch holding ``name``), a VM whose budget ran
    out is still waited for while it visibly progresses, up to four times the budget.
    """
    started = time.monotonic()
    last, stalled = None, None

    def keep_waiting():
        nonlocal stalled
        now = time.monotonic()
        if now < started + timeout:
            if watch is not None:
                watch.look(name)
            return True
        if watch is None or now >= started + 4 * timeout:
            return False
        stalled = watch.verdict(name)
        return stalled is None
    while keep_waiting():
        last = try_login()
        if last.returncode == 0:
            return time.monotonic()
        time.sleep(0.5)
    tail = ''
    if console_log and os.path.exists(console_log):
        with open(console_log, errors='replace') as handle:
            tail = ''.join(handle.readlines()[-40:])
    raise AssertionError('no SSH login to %s within %ds%s (last: %s)\nconsole tail:\n%s'
                         % (name, time.monotonic() - started, ': %s' % stalled if stalled else '',
                            last.stderr.strip() if last else '-', tail))


def lab_connection():
    return connect('qemu:///system')


def template_image(repo_path, name='debian12'):
    """The image of a template's newest version in a file repository (Lago's format)."""
    with open(repo_path) as handle:
        repo = json.load(handle)
    versions = repo['templates'][name]['versions']
    newest = max(versions.values(), key=lambda version: version['timestamp'])
    root = os.path.expandvars(repo['sources'][newest['source']]['args']['root'])
    return os.path.join(os.path.dirname(repo_path), root, newest['handle'])


def lab_hypervisors():
    """The lab's hypervisors (``hack/lab hypervisors N``): ``(inventory path, {name: underlay address})``.

    Without them a multi-host test is skipped, or fails when the suite
    requires the lab (LAGO_LAB_REQUIRED=1: ``hack/lab test`` starts two).
    """
    import pytest
    import yaml
    path = os.environ.get('LAGO_LAB_HV_INVENTORY')
    if not path or not os.path.exists(path):
        problem = 'the lab has no hypervisors (run LAGO_LAB_HYPERVISORS=2 hack/lab up)'
        if os.environ.get('LAGO_LAB_REQUIRED') == '1':
            pytest.fail(problem)
        pytest.skip(problem)
    with open(path) as handle:
        hosts = yaml.safe_load(handle)['all']['children']['lago_hypervisors']['hosts']
    return path, dict((name, hostvars['ansible_host']) for name, hostvars in hosts.items())
