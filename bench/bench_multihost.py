"""init and start of one lab on 1 vs 2 hypervisors (issue 13, docs/MULTIHOST.md).

One multi-host lab of N VMs (default 4; 512 MiB, 1 vcpu, the lab's template,
unpinned: placement spreads them), made with the verb playbooks from the
controller: ``init`` then ``start`` (until every VM accepts an SSH login
through its hypervisor), on the lab's hv1 alone and on hv1 + hv2, layouts
interleaved, several rounds. Each hypervisor fetches the template over HTTP
from the controller's underlay address into its own store; a first, untimed
init + destroy on every hypervisor fills the stores, so each timed init
finds the template there. Prints the median seconds per layout and phase and
the ratio 2 hypervisors / 1, then checks nothing is left on any hypervisor
(domains, networks, vxlan devices, parts, template stores) nor a lease.

    LAGO_LAB=mylab LAGO_LAB_HYPERVISORS=2 hack/lab up
    LAGO_LAB=mylab hack/lab exec python bench/bench_multihost.py [--vms 4] [--rounds 3]
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'tests'))
import repo_server  # noqa: E402 pylint: disable=wrong-import-position
from ansible_collections.lago.lago.plugins.module_utils import subnet_lease  # noqa: E402 pylint: disable=wrong-import-position

PRIVATE = '/var/lib/libvirt/lago-bench'
UNDERLAY = '192.168.250.1'
INIT = '''
domains:
%s
nets:
  lab:
    type: nat
    management: true
'''
VM = '''  vm%02d:
    memory: %d
    vcpu: 1
    nics: [{net: lab}]
    disks: [{template_name: debian12, type: template, name: root, dev: vda, format: qcow2}]
'''


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--vms', type=int, default=4, help='VMs of the lab (default 4)')
    parser.add_argument('--rounds', type=int, default=2, help='rounds, layouts interleaved (default 2)')
    parser.add_argument('--memory', type=int, default=512, help='MiB per VM (default 512)')
    args = parser.parse_args(argv)
    if args.vms < 1 or args.rounds < 1:
        parser.error('--vms and --rounds must be at least 1')
    return args


def lab_inventory():
    path = os.environ.get('LAGO_LAB_HV_INVENTORY')
    if not path or not os.path.exists(path):
        sys.exit('the lab has no hypervisors: LAGO_LAB_HYPERVISORS=2 hack/lab up, then run this with hack/lab exec')
    with open(path) as handle:
        inventory = yaml.safe_load(handle)
    hosts = inventory['all']['children']['lago_hypervisors']['hosts']
    if not {'hv1', 'hv2'} <= set(hosts):
        sys.exit('the lab needs hv1 and hv2, it has: %s' % ', '.join(sorted(hosts)))
    return inventory


def inventory_of(inventory, names, directory):
    """The lab's inventory with only the hypervisors ``names``."""
    copy = json.loads(json.dumps(inventory))
    group = copy['all']['children']['lago_hypervisors']
    group['hosts'] = dict((name, group['hosts'][name]) for name in names)
    path = os.path.join(directory, 'hv-%s.yml' % '-'.join(names))
    with open(path, 'w') as handle:
        yaml.safe_dump(copy, handle)
    return path


def served_repo(directory):
    """The lab's template repository over HTTP on the controller's underlay address."""
    templates = os.path.dirname(os.environ.get('LAGO_LAB_TEMPLATE_REPO') or '/var/cache/lago-lab/templates/repo.json')
    with open(os.path.join(templates, 'repo.json')) as handle:
        repo = json.load(handle)
    for name in os.listdir(templates):
        if os.path.isdir(os.path.join(templates, name)):
            os.symlink(os.path.join(templates, name), os.path.join(directory, name))
    server = repo_server.start_in_thread(directory, host=UNDERLAY)
    for source in repo['sources'].values():
        source.update(type='http', args=dict(baseurl=server.url))
    with open(os.path.join(directory, 'repo.json'), 'w') as handle:
        json.dump(repo, handle)
    return server


def playbook(name, extra, inventory, cwd):
    argv = ['ansible-playbook', 'lago.lago.%s' % name, '-i', inventory, '-e', json.dumps(extra)]
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError('%s failed (rc %s):\n%s' % (name, proc.returncode, proc.stdout[-4000:]))
    return time.monotonic() - started


def ssh(host, *command):
    return subprocess.run(['ssh', host] + list(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=120, check=False)


def leftovers(hosts, short_ids, lease_dir):
    found = []
    for host in hosts:
        virsh = ['virsh', '-c', 'qemu+ssh://root@%s/system' % host]
        names = subprocess.run(virsh + ['list', '--all', '--name'], stdout=subprocess.PIPE, universal_newlines=True,
                               check=True).stdout.split()
        names += subprocess.run(virsh + ['net-list', '--all', '--name'], stdout=subprocess.PIPE,
                                universal_newlines=True, check=True).stdout.split()
        found += ['%s: libvirt %s' % (host, name) for name in names if any(name.startswith(s) for s in short_ids)]
        links = ssh(host, 'ip', '-o', 'link', 'show', 'type', 'vxlan').stdout.splitlines()
        found += ['%s: vxlan %s' % (host, line.split(':')[1].strip()) for line in links]
        if ssh(host, 'test', '-e', PRIVATE).returncode == 0:
            found.append('%s: %s' % (host, PRIVATE))
    found += ['lease %s' % lease['subnet'] for lease in subnet_lease.list_leases(lease_dir)]
    return found


def one_lab(work, extra, inventory, timed=True):
    """init, start (timed), destroy of the lab in ``work``: ({init, start}, short_id)."""
    times = {'init': playbook('init', extra, inventory, work)}
    with open(os.path.join(work, '.lago', 'state.json')) as handle:
        short_id = json.load(handle)['short_id']
    try:
        if timed:
            times['start'] = playbook('start', extra, inventory, work)
    finally:
        playbook('destroy', extra, inventory, work)
    return times, short_id


def main(argv=None):
    args = parse_args(argv)
    inventory = lab_inventory()
    scratch = tempfile.mkdtemp(prefix='bench-multihost-')
    served = os.path.join(scratch, 'served')
    os.makedirs(served)
    server = served_repo(served)
    layouts = (('1 hypervisor', ['hv1']), ('2 hypervisors', ['hv1', 'hv2']))
    inventories = dict((label, inventory_of(inventory, names, scratch)) for label, names in layouts)
    lease_dir = os.path.join(scratch, 'subnets')
    os.makedirs(lease_dir)
    short_ids = []
    results = dict((label, {'init': [], 'start': []}) for label, _names in layouts)
    try:
        for round_no in range(args.rounds + 1):
            for label, _names in layouts:
                if round_no == 0 and label != '2 hypervisors':
                    continue  # the untimed first round fills both stores
                work = os.path.join(scratch, 'r%d-%s' % (round_no, label[0]))
                os.makedirs(work)
                with open(os.path.join(work, 'LagoInitFile'), 'w') as handle:
                    handle.write(INIT % ''.join(VM % (index + 1, args.memory) for index in range(args.vms)))
                extra = dict(lago_prefix_path='.lago', lago_init_file='LagoInitFile', lago_lease_dir=lease_dir,
                             lago_virt_type='qemu', lago_template_repo='', lago_hypervisor_template_repo=server.url +
                             '/repo.json', lago_hypervisor_template_store=PRIVATE + '/store',
                             lago_hypervisor_prefix_path='%s/parts/r%d%s' % (PRIVATE, round_no, label[0]))
                times, short_id = one_lab(work, extra, inventories[label], timed=round_no > 0)
                short_ids.append(short_id)
                if round_no > 0:
                    for phase, seconds in times.items():
                        results[label][phase].append(seconds)
                    print('round %d, %s: init %.1f s, start %.1f s' % (round_no, label, times['init'], times['start']),
                          flush=True)
    finally:
        for host in ('hv1', 'hv2'):
            ssh(host, 'rm', '-rf', PRIVATE)
        server.shutdown()
        server.server_close()
    print('%d VMs, %d round(s), medians:' % (args.vms, args.rounds))
    medians = {}
    for label, _names in layouts:
        medians[label] = dict((phase, statistics.median(values)) for phase, values in results[label].items())
        medians[label]['init+start'] = medians[label]['init'] + medians[label]['start']
        print('  %-14s init %7.1f s  start %7.1f s  init+start %7.1f s' % (
            label, medians[label]['init'], medians[label]['start'], medians[label]['init+start']))
    for phase in ('init', 'start', 'init+start'):
        print('  ratio 2/1 hypervisors, %-10s %.2f' % (phase, medians['2 hypervisors'][phase] / medians['1 hypervisor'][phase]))
    left = leftovers(('hv1', 'hv2'), short_ids, lease_dir)
    shutil.rmtree(scratch, ignore_errors=True)
    print('left behind: %s' % (', '.join(left) or 'nothing'))
    return 1 if left else 0


if __name__ == '__main__':
    sys.exit(main())
