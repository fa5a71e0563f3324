"""Prefix benchmarks (issue: init <= 1 s for 10 VMs / 2 nets, ratio to a
plain script <= 1.5; start of 3 VMs to all-SSH-ready <= 2 s over the slowest
VM booted alone).

Run inside the lab:
    hack/lab exec python bench/bench_prefix.py init [--runs 5]
    hack/lab exec python bench/bench_prefix.py start
The template comes from LAGO_LAB_TEMPLATE_REPO (fetched once into a scratch store).
"""

from __future__ import absolute_import, division, print_function

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid

from lxml import etree

from ansible_collections.lago.lago.plugins.module_utils import (
    disk, prefix_build, prefix_power, prefix_state, prefix_teardown, spec_normalize as spec)
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import connect
from ansible_collections.lago.lago.plugins.module_utils.prefix_state import Layout, PrefixState

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import work_dir  # noqa: E402

REPO = os.environ.get('LAGO_LAB_TEMPLATE_REPO', '/var/cache/lago-lab/templates/repo.json')


def init_spec(vms, nets=2):
    domains = {}
    for index in range(vms):
        domains['vm%02d' % index] = {
            'memory': 512, 'nics': [{'net': 'net%d' % n} for n in range(nets)],
            'disks': [{'template_name': 'debian12', 'type': 'template', 'name': 'root', 'dev': 'vda',
                       'format': 'qcow2'}]}
    nets_spec = {'net%d' % n: {'type': 'nat', 'management': n == 0} for n in range(nets)}
    return spec.normalize_spec({'domains': domains, 'nets': nets_spec})


def engine_init(workdir, wanted, store, lease_dir):
    """Init through the collection's engine; returns seconds and the layout."""
    layout = Layout(os.path.join(workdir, 'prefix-%s' % uuid.uuid4().hex[:6]))
    options = prefix_build.Options(template_repo=REPO, template_store=store, lease_dir=lease_dir,
                                   virt_type='qemu')
    conn = connect()
    started = time.perf_counter()
    with prefix_state.open_prefix(layout.path, must_exist=False) as state:
        prefix_build.plan_present(conn, state, wanted, options).apply()
    return time.perf_counter() - started, layout


def plain_init(workdir, wanted, backing):
    """The same external calls, written plainly: keys, overlays, seeds, networks, domains."""
    conn = connect()
    base = os.path.join(workdir, 'plain-%s' % uuid.uuid4().hex[:6])
    os.makedirs(base)
    short = uuid.uuid4().hex[:8]
    started = time.perf_counter()
    subprocess.check_call(['ssh-keygen', '-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', base + '/id_rsa'])
    objects = []
    for index, name in enumerate(sorted(wanted['nets'])):
        xml = ('<network><name>%s-%s</name><forward mode="nat"/><bridge name="p%s%d"/>'
               '<ip address="192.168.%d.1" prefix="24"/></network>' % (short, name, short[:8], index, 240 + index))
        objects.append(conn.networkDefineXML(xml))
    for name in sorted(wanted['domains']):
        image = '%s/%s.qcow2' % (base, name)
        subprocess.check_call(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', backing, '-F', 'qcow2', image])
        subprocess.check_call(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', '%s/%s_host' % (base, name)])
        seed_dir = '%s/%s-seed' % (base, name)
        os.makedirs(seed_dir)
        for item in ('meta-data', 'user-data', 'network-config'):
            with open(os.path.join(seed_dir, item), 'w') as handle:
                handle.write('{}\n')
        subprocess.check_call(['genisoimage', '-quiet', '-output', '%s/%s.iso' % (base, name), '-volid', 'cidata',
                               '-joliet', '-rock', seed_dir])
        root = etree.Element('domain', type='qemu')
        etree.SubElement(root, 'name').text = '%s-%s' % (short, name)
        etree.SubElement(root, 'memory', unit='MiB').text = '512'
        os_node = etree.SubElement(root, 'os')
        etree.SubElement(os_node, 'type').text = 'hvm'
        devices = etree.SubElement(root, 'devices')
        disk_node = etree.SubElement(devices, 'disk', type='file', device='disk')
        etree.SubElement(disk_node, 'driver', name='qemu', type='qcow2')
        etree.SubElement(disk_node, 'source', file=image)
        etree.SubElement(disk_node, 'target', dev='vda', bus='virtio')
        objects.append(conn.defineXML(etree.tostring(root).decode()))
    elapsed = time.perf_counter() - started
    for obj in objects:
        obj.undefine()
    shutil.rmtree(base)
    return elapsed


def bench_init(args):
    workdir = work_dir('lago-bench-prefix-')
    store, lease_dir = os.path.join(workdir, 'store'), os.path.join(workdir, 'subnets')
    wanted = init_spec(10)
    backing = disk.template_backing(REPO, store, 'debian12')['path']  # cached before timing
    conn = connect()
    engine, plain = [], []
    try:
        for _run in range(args.runs):
            seconds, layout = engine_init(workdir, wanted, store, lease_dir)
            engine.append(seconds)
            prefix_teardown.destroy(conn, PrefixState.load(layout))
            plain.append(plain_init(workdir, wanted, backing))
            print('run %d: engine %.3f s, plain script %.3f s' % (_run + 1, engine[-1], plain[-1]), flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    ratios = [e / p for e, p in zip(engine, plain)]
    figures = (statistics.median(engine), statistics.median(plain), statistics.median(ratios))
    print('init of 10 VMs / 2 nets: engine median %.3f s (target <= 1 s); plain script median %.3f s; '
          'ratio median %.2f (target <= 1.5)' % figures)


def bench_start(args):
    """3 VMs started together vs. the slowest booted alone, measured by the same code."""
    workdir = work_dir('lago-bench-start-')
    store, lease_dir = os.path.join(workdir, 'store'), os.path.join(workdir, 'subnets')
    conn = connect()
    try:
        seconds, layout = engine_init(workdir, init_spec(3, nets=1), store, lease_dir)
        state = PrefixState.load(layout)
        alone = {}
        for name in state.vm_names:
            started = time.monotonic()
            prefix_power.start(conn, state, [name])
            prefix_power.wait_for_ssh(state, [name], timeout=600)
            alone[name] = time.monotonic() - started
            prefix_power.stop(conn, state, [name], timeout=1)
            print('%s alone: %.1f s to SSH' % (name, alone[name]), flush=True)
        started = time.monotonic()
        prefix_power.start(conn, state)
        ready = prefix_power.wait_for_ssh(state, timeout=600)
        together = time.monotonic() - started
        print('3 VMs together: all SSH-ready after %.1f s (each: %s)'
              % (together, ', '.join('%s %.1f s' % item for item in sorted(ready.items()))))
        print('excess over the slowest VM alone (%.1f s): %.1f s (target <= 2 s; 2 cores shared by 3 '
              'emulated guests)' % (max(alone.values()), together - max(alone.values())))
        prefix_teardown.destroy(conn, state)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('what', choices=['init', 'start'])
    parser.add_argument('--runs', type=int, default=5)
    args = parser.parse_args()
    {'init': bench_init, 'start': bench_start}[args.what](args)


if __name__ == '__main__':
    sys.exit(main())
