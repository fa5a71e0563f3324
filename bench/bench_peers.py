"""lago.lago side by side with kcli and virt-lightning (issue 14, item 4).

The same template (debian12-generic-cloudinit: stock cloud-init on Debian's
generic kernel, which reads the cdrom seeds both peers attach), the same N VMs
(512 MiB, 1 vcpu, domain type qemu/TCG), created, started until every VM
accepts an SSH login, and destroyed by each tool; tools interleaved, several
rounds. Prints the median seconds per tool and phase, the ratios lago/kcli and
lago/virt-lightning, and what each tool left behind (nothing, it must be).

Two steps, because the lab has no way out to a package mirror or PyPI:

    python bench/bench_peers.py prepare     # on the host: peers' venv, the template
    hack/lab exec python bench/bench_peers.py run [--vms 3] [--rounds 2]

What a peer cannot do here is said in the output, not skipped silently:
virt-lightning has no "create without starting" (``vl up`` does both), so its
start phase is create+start and is compared with lago's init+start.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import work_dir  # noqa: E402

CACHE = os.environ.get('LAGO_LAB_CACHE', '/var/cache/lago-lab')
HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = 'debian12-generic-cloudinit'
PHASES = ('init', 'start', 'destroy')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('what', nargs='?', choices=['run', 'prepare'], default='run',
                        help='prepare: on the host, the peers\' virtualenv and the template; run: inside the lab')
    parser.add_argument('--vms', type=int, default=3, help='VMs per tool (default 3)')
    parser.add_argument('--rounds', type=int, default=2, help='rounds, tools interleaved (default 2)')
    parser.add_argument('--memory', type=int, default=512, help='MiB per VM (default 512)')
    parser.add_argument('--tools', default='lago,kcli,virt-lightning',
                        help='comma-separated, of lago, kcli, virt-lightning')
    parser.add_argument('--home', default=os.path.join(CACHE, 'peers'),
                        help='the peers\' virtualenv and the template repository live here')
    parser.add_argument('--ssh-timeout', type=float, default=900.0,
                        help='give up on a VM that accepts no login after this many seconds')
    args = parser.parse_args(argv)
    tools = [tool.strip() for tool in args.tools.split(',') if tool.strip()]
    unknown = sorted(set(tools) - set(TOOLS))
    if unknown:
        parser.error('--tools: unknown tool(s) %s (known: %s)' % (', '.join(unknown), ', '.join(TOOLS)))
    if args.vms < 1 or args.rounds < 1:
        parser.error('--vms and --rounds must be at least 1')
    args.tools = tools
    args.venv = os.path.join(args.home, 'venv')
    args.repo = os.path.join(args.home, 'templates', 'repo.json')
    return args


# --- prepare (on the host) -------------------------------------------------

def prepare(args):
    """The peers' own virtualenv (from PyPI) and the generic-kernel template (built with the collection's role)."""
    if not os.path.exists(os.path.join(args.venv, 'bin', 'kcli')) or \
            not os.path.exists(os.path.join(args.venv, 'bin', 'vl')):
        subprocess.check_call([sys.executable, '-m', 'venv', args.venv])
        subprocess.check_call([os.path.join(args.venv, 'bin', 'pip'), 'install', '-q', 'kcli', 'virt-lightning',
                               'libvirt-python'])
    playbook = os.path.join(args.home, 'template_generic.yml')
    with open(playbook, 'w') as handle:
        handle.write('- hosts: localhost\n  gather_facts: false\n  tasks:\n'
                     '    - ansible.builtin.include_role:\n        name: lago.lago.template_build\n'
                     '      vars:\n        template_build_name: %s\n        template_build_seed_agent: cloud-init\n'
                     '        template_build_kernel: generic\n' % TEMPLATE)
    env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING='false')
    subprocess.check_call(['ansible-playbook', playbook, '-e', 'template_build_dir=%s' % os.path.join(args.home, 'build'),
                           '-e', 'template_build_repo=%s' % args.repo,
                           '-e', 'template_build_apt_cache=%s' % os.path.join(CACHE, 'build', 'apt-cache')], env=env)
    print('prepared: %s (kcli, virt-lightning), %s (%s)' % (args.venv, args.repo, TEMPLATE))


# --- what every tool is measured with --------------------------------------

def run(argv, env=None, cwd=None):
    """Run a tool's command; its output is kept for the error message only. Interrupted, the
    command goes with everything it started (its own session), so the cleanup meets no stray run."""
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, start_new_session=True)
    try:
        out, _err = proc.communicate()
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    if proc.returncode != 0:
        raise RuntimeError('%s exited %d:\n%s' % (' '.join(argv), proc.returncode, out[-3000:]))
    return out


def timed(func, *args):
    started = time.monotonic()
    func(*args)
    return time.monotonic() - started


def login_ok(user, address, key):
    """One SSH login that runs ``true`` (host keys of peers' VMs are not known ahead: accepted)."""
    import paramiko
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # nosec: a throw-away VM inside the lab
    try:
        client.connect(address, username=user, key_filename=key, look_for_keys=False, allow_agent=False,
                       timeout=5, banner_timeout=5, auth_timeout=5)
        _in, out, _err = client.exec_command('true', timeout=10)
        return out.channel.recv_exit_status() == 0
    except Exception:  # pylint: disable=broad-except  # not ready yet
        return False
    finally:
        client.close()


def wait_logins(find_targets, timeout):
    """Poll until every VM accepts a login; ``find_targets()`` -> {vm: (user, address or None, key)}.
    One thread per VM, all in this process, for every tool alike."""
    import logging
    logging.getLogger('paramiko').setLevel(logging.CRITICAL)
    deadline = time.monotonic() + timeout
    names = sorted(find_targets())
    ready = {}

    def one(name):
        while time.monotonic() < deadline:
            user, address, key = find_targets().get(name, (None, None, None))
            if address and login_ok(user, address, key):
                ready[name] = True
                return
            time.sleep(0.5)
    threads = [threading.Thread(target=one, args=(name,), daemon=True) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    missing = sorted(set(names) - set(ready))
    if missing:
        raise RuntimeError('no SSH login within %ds to %s' % (timeout, ', '.join(missing)))


def libvirt_objects(conn):
    """Names of every domain, network, storage pool and volume (the leftover check compares them)."""
    import libvirt
    found = set('domain %s' % dom.name() for dom in conn.listAllDomains())
    found |= set('network %s' % net.name() for net in conn.listAllNetworks())
    for pool in conn.listAllStoragePools():
        found.add('pool %s' % pool.name())
        if pool.isActive():
            try:
                pool.refresh(0)
            except libvirt.libvirtError as err:  # its directory went: say so, as a leftover
                found.add('pool %s (%s)' % (pool.name(), err.get_error_message()))
                continue
            found |= set('volume %s/%s' % (pool.name(), vol.name()) for vol in pool.listAllVolumes())
    return found


def remove_objects(conn, names):
    """Remove the libvirt objects ``names`` (as libvirt_objects() names them): domains first, then their
    volumes, networks, pools. Returns what could not be removed, each with libvirt's reason."""
    import libvirt
    failed = []
    order = {'domain': 0, 'volume': 1, 'network': 2, 'pool': 3}
    for name in sorted(names, key=lambda item: (order.get(item.split(' ', 1)[0], 4), item)):
        kind, what = name.split(' ', 1)
        try:
            if kind == 'domain':
                _remove_domain(conn, what)
            elif kind == 'volume':
                pool, vol = what.split('/', 1)
                conn.storagePoolLookupByName(pool).storageVolLookupByName(vol).delete(0)
            elif kind in ('network', 'pool') and ' (' not in what:
                obj = (conn.networkLookupByName if kind == 'network' else conn.storagePoolLookupByName)(what)
                persistent = obj.isPersistent()
                if obj.isActive():
                    obj.destroy()
                if persistent:
                    obj.undefine()
        except libvirt.libvirtError as err:
            if err.get_error_code() not in (libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_NO_NETWORK,
                                            libvirt.VIR_ERR_NO_STORAGE_POOL, libvirt.VIR_ERR_NO_STORAGE_VOL):
                failed.append('%s (%s)' % (name, err.get_error_message()))
    return failed


def addresses(conn, network_name):
    """{mac: address} of a libvirt network: its static DHCP hosts and its leases."""
    from lxml import etree
    try:
        net = conn.networkLookupByName(network_name)
    except Exception:  # pylint: disable=broad-except
        return {}
    found = {}
    for host in etree.fromstring(net.XMLDesc(0).encode()).iter('host'):
        if host.get('mac') and host.get('ip'):
            found[host.get('mac').lower()] = host.get('ip')
    if net.isActive():
        for lease in net.DHCPLeases():
            found[lease['mac'].lower()] = lease['ipaddr']
    return found


def macs(conn, dom_name):
    from lxml import etree
    try:
        dom = conn.lookupByName(dom_name)
    except Exception:  # pylint: disable=broad-except
        return []
    return [mac.get('address').lower() for mac in etree.fromstring(dom.XMLDesc(0).encode()).iter('mac')]


def keypair(path):
    if not os.path.exists(path):
        run(['ssh-keygen', '-q', '-t', 'rsa', '-b', '3072', '-N', '', '-f', path])
    return path


# --- the tools ---------------------------------------------------------------

def ansible(module, module_args):
    """One module run on localhost by ``ansible`` (what lago's figures include: its start-up too)."""
    run(['ansible', 'localhost', '-o', '-m', module] + (['-a', module_args] if module_args else []),
        env=dict(os.environ, ANSIBLE_LOCALHOST_WARNING='false'))


class Lago(object):
    """lago.lago through its module, as a playbook task would run it (ansible's start-up included)."""
    name = 'lago'
    notes = []

    def __init__(self, args, work, conn):
        self.args, self.conn = args, conn
        self.dir = os.path.join(work, 'lago')
        self.prefix = os.path.join(self.dir, 'prefix')
        self.init_file = os.path.join(self.dir, 'LagoInitFile')
        self.common = ['virt_type=qemu', 'template_repo=%s' % args.repo,
                       'template_store=%s' % os.path.join(self.dir, 'store'),
                       'lease_dir=%s' % os.path.join(self.dir, 'subnets'), 'ssh_timeout=%d' % args.ssh_timeout]

    def setup(self):
        os.makedirs(self.dir)
        vm = {'memory': self.args.memory, 'vcpu': 1, 'nics': [{'net': 'lbnet'}],
              'disks': [{'template_name': TEMPLATE, 'type': 'template', 'name': 'root', 'dev': 'vda',
                         'format': 'qcow2'}]}
        spec = {'domains': dict(('lb%d' % index, vm) for index in range(self.args.vms)),
                'nets': {'lbnet': {'type': 'nat', 'management': True}}}
        with open(self.init_file, 'w') as handle:
            json.dump(spec, handle)
        # The template into the store once, before timing (the peers get theirs copied into their pools too).
        from ansible_collections.lago.lago.plugins.module_utils import disk
        disk.template_backing(self.args.repo, os.path.join(self.dir, 'store'), TEMPLATE)

    def module(self, *params):
        ansible('lago.lago.lago_prefix', ' '.join(('path=%s' % self.prefix,) + params + tuple(self.common)))

    @staticmethod
    def startup():
        """The part of each lago figure that is ansible's own: the same command with ``ping``."""
        ansible('ping', '')

    def init(self):
        self.module('state=present', 'init_file=%s' % self.init_file)

    def start(self):
        self.module('state=started')
        with open(os.path.join(self.prefix, 'state.json')) as handle:
            vms = json.load(handle)['vms']
        key = os.path.join(self.prefix, 'id_rsa')
        wait_logins(lambda: dict((name, (vm['ssh_user'], vm['address'], key)) for name, vm in vms.items()),
                    self.args.ssh_timeout)

    def destroy(self):
        self.module('state=absent')

    def clean(self):
        """A prefix a failed round left (its objects are removed by bench() too, should this fail)."""
        if os.path.exists(os.path.join(self.prefix, 'state.json')):
            self.module('state=absent')


class Kcli(object):
    """kcli (PyPI) with ``type: kvm``, ``virttype: qemu``, its own pool and network in the lab."""
    name = 'kcli'
    notes = []

    def __init__(self, args, work, conn):
        self.args, self.conn = args, conn
        self.home = os.path.join(work, 'kcli-home')
        self.pool_dir = os.path.join(work, 'kcli-pool')
        self.env = dict(os.environ, HOME=self.home, PATH='%s/bin:%s' % (args.venv, os.environ['PATH']))
        self.vms = ['kb-%d' % index for index in range(args.vms)]

    def kcli(self, *argv):
        return run([os.path.join(self.args.venv, 'bin', 'kcli')] + list(argv), env=self.env)

    def setup(self):
        os.makedirs(os.path.join(self.home, '.kcli'))
        os.makedirs(self.pool_dir)
        keypair(os.path.join(self.home, '.kcli', 'id_rsa'))
        with open(os.path.join(self.home, '.kcli', 'config.yml'), 'w') as handle:
            handle.write('default:\n  client: local\n  pool: kclibench\n  virttype: qemu\n  cpumodel: qemu64\n'
                         'local:\n  type: kvm\n  host: 127.0.0.1\n  url: qemu:///system\n')
        self.kcli('create', 'pool', '-p', self.pool_dir, 'kclibench')
        _copy_image(self.args.repo, os.path.join(self.pool_dir, TEMPLATE + '.qcow2'))
        self.conn.storagePoolLookupByName('kclibench').refresh(0)
        self.kcli('create', 'network', '-c', '192.168.124.0/24', 'kclibench')

    def init(self):
        self.kcli('create', 'vm', '-c', str(self.args.vms), '-i', TEMPLATE + '.qcow2',
                  '-P', 'memory=%d' % self.args.memory, '-P', 'numcpus=1', '-P', 'nets=[kclibench]',
                  '-P', 'start=false', '-P', 'wait=false', 'kb')

    def start(self):
        self.kcli('start', 'vm', *self.vms)
        key = os.path.join(self.home, '.kcli', 'id_rsa')

        def targets():
            found = addresses(self.conn, 'kclibench')
            return dict((name, ('root', next((found[mac] for mac in macs(self.conn, name) if mac in found), None),
                                key)) for name in self.vms)
        wait_logins(targets, self.args.ssh_timeout)

    def destroy(self):
        self.kcli('delete', 'vm', '-y', *self.vms)

    def clean(self):
        """What setup made (its VMs' objects are gone already: see bench())."""
        for argv in (('delete', 'network', '-y', 'kclibench'), ('delete', 'pool', '-y', 'kclibench')):
            try:
                self.kcli(*argv)
            except RuntimeError as err:
                print('kcli cleanup: %s' % err.args[0].splitlines()[0])


VL_SHIM = '''import os, sys
import virt_lightning.virt_lightning as vl
# The lab's KVM cannot run guests: virt-lightning picks kvm whenever libvirt offers it,
# and has no setting for the domain type; its storage directory is a constant too.
vl.LibvirtHypervisor.domain_type = property(lambda self: 'qemu')
vl.DEFAULT_STORAGE_DIR = os.environ['VL_STORAGE_DIR']
from virt_lightning.shell import main
sys.exit(main())
'''


class VirtLightning(object):
    """virt-lightning (PyPI): ``vl up`` / ``vl down`` with the template as a custom distro in its storage dir."""
    name = 'virt-lightning'
    notes = ['virt-lightning cannot create VMs without starting them (`vl up` does both): its start is '
             'create+start, compared with lago init+start',
             'virt-lightning has no setting for the domain type (it takes kvm when libvirt offers it): '
             'run through a 3-line shim that makes it qemu, and puts its storage directory in the bench\'s']

    def __init__(self, args, work, conn):
        self.args, self.conn = args, conn
        self.dir = os.path.join(work, 'vl')
        self.home = os.path.join(self.dir, 'home')
        self.storage = os.path.join(self.dir, 'pool')
        self.env = dict(os.environ, HOME=self.home, VL_STORAGE_DIR=self.storage)
        self.vms = ['vb%d' % index for index in range(args.vms)]

    def vl(self, *argv):
        return run([os.path.join(self.args.venv, 'bin', 'python'), os.path.join(self.dir, 'vl.py')] + list(argv),
                   env=self.env, cwd=self.dir)

    def setup(self):
        os.makedirs(os.path.join(self.home, '.config', 'virt-lightning'))
        os.makedirs(os.path.join(self.storage, 'upstream'))
        with open(os.path.join(self.dir, 'vl.py'), 'w') as handle:
            handle.write(VL_SHIM)
        key = keypair(os.path.join(self.home, 'id_rsa'))
        with open(os.path.join(self.home, '.config', 'virt-lightning', 'config.ini'), 'w') as handle:
            handle.write('[main]\nlibvirt_uri = qemu:///system\nstorage_pool = vlbench\nnetwork_name = vlbench\n'
                         'network_cidr = 192.168.123.0/24\nnetwork_auto_clean_up = True\nssh_key_file = %s.pub\n'
                         'root_password = root\n' % key)
        _copy_image(self.args.repo, os.path.join(self.storage, 'upstream', TEMPLATE + '.qcow2'))
        # Its storage pool, as its first `vl up` would define it, so that it is not a leftover of a round.
        pool = self.conn.storagePoolDefineXML('<pool type="dir"><name>vlbench</name><target><path>%s</path></target>'
                                              '</pool>' % self.storage, 0)
        pool.create(0)
        with open(os.path.join(self.dir, 'virt-lightning.yaml'), 'w') as handle:
            for name in self.vms:
                handle.write('- name: %s\n  distro: %s\n  memory: %d\n  vcpus: 1\n  username: root\n'
                             '  metadata_format: {provider: nocloud}\n' % (name, TEMPLATE, self.args.memory))

    init = None  # see notes

    def start(self):
        self.vl('up')
        key = os.path.join(self.home, 'id_rsa')

        def targets():
            found = addresses(self.conn, 'vlbench')
            return dict((name, ('root', next((found[mac] for mac in macs(self.conn, name) if mac in found), None),
                                key)) for name in self.vms)
        wait_logins(targets, self.args.ssh_timeout)

    def destroy(self):
        self.vl('down')

    def clean(self):
        """What setup made (its VMs' objects are gone already: see bench())."""
        left = remove_objects(self.conn, ['network vlbench', 'pool vlbench'])
        if left:
            raise RuntimeError(', '.join(left))


TOOLS = {'lago': Lago, 'kcli': Kcli, 'virt-lightning': VirtLightning}


def _copy_image(repo, dest):
    """The template's image from the repository (file sources only), uncompressed, as the peers' base image."""
    with open(repo) as handle:
        data = json.load(handle)
    version = sorted(data['templates'][TEMPLATE]['versions'].items(), key=lambda item: item[1]['timestamp'])[-1][1]
    root = data['sources'][version['source']]['args']['root']
    source = os.path.join(root, version['handle'])
    run(['qemu-img', 'convert', '-O', 'qcow2', source, dest])


def _remove_domain(conn, name):
    try:
        dom = conn.lookupByName(name)
    except Exception:  # pylint: disable=broad-except
        return
    if dom.isActive():
        dom.destroy()
    dom.undefine()


# --- the run -------------------------------------------------------------------

def bench(args):
    import libvirt
    if not os.path.exists(args.repo) or not os.path.exists(os.path.join(args.venv, 'bin', 'kcli')):
        sys.exit('missing %s or %s: run `python bench/bench_peers.py prepare` on the host first '
                 '(the lab cannot reach PyPI or a package mirror)' % (args.repo, args.venv))
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)  # errors are raised (and said) where they matter
    conn = libvirt.open('qemu:///system')
    work = work_dir('lago-bench-peers-', conn)
    tools = [TOOLS[name](args, work, conn) for name in args.tools]
    figures = dict((tool.name, dict((phase, []) for phase in PHASES)) for tool in tools)
    failures, leftovers, startup = [], [], []
    baseline = libvirt_objects(conn)
    try:
        for tool in tools:
            tool.setup()
        setup_objects = libvirt_objects(conn)
        for number in range(1, args.rounds + 1):
            for tool in tools if number % 2 else reversed(tools):
                line = []
                for phase in PHASES:
                    step = getattr(tool, phase)
                    if step is None:
                        continue
                    try:
                        seconds = timed(step)
                    except RuntimeError as err:
                        failures.append('round %d, %s %s: %s' % (number, tool.name, phase, err))
                        line.append('%s FAILED' % phase)
                        break
                    figures[tool.name][phase].append(seconds)
                    line.append('%s %.1f s' % (phase, seconds))
                if isinstance(tool, Lago):
                    startup.append(timed(tool.startup))
                    line.append('(ansible start-up %.1f s)' % startup[-1])
                print('round %d %-15s %s' % (number, tool.name, ', '.join(line)), flush=True)
                # What the round left (a failed phase, or a destroy that forgot something) is said, then
                # removed whatever it is, so that the next round and tool start from the setup's objects.
                left = sorted(libvirt_objects(conn) - setup_objects)
                if left:
                    leftovers.append('round %d, %s: %s' % (number, tool.name, ', '.join(left)))
                    if isinstance(tool, Lago):
                        _clean(tool, failures)
                    stuck = remove_objects(conn, sorted(libvirt_objects(conn) - setup_objects))
                    if stuck:
                        failures.append('round %d, %s: could not remove %s' % (number, tool.name, ', '.join(stuck)))
    finally:
        for tool in tools:
            _clean(tool, failures)
        stuck = remove_objects(conn, sorted(libvirt_objects(conn) - baseline))
        shutil.rmtree(work, ignore_errors=True)
        left = sorted(libvirt_objects(conn) - baseline)
        if left:
            leftovers.append('after cleanup: %s' % ', '.join(left))
        if stuck:
            failures.append('cleanup: could not remove %s' % ', '.join(stuck))
    report(args, tools, figures, failures, leftovers, startup)
    return 1 if failures or leftovers else 0


def _clean(tool, failures):
    try:
        tool.clean()
    except Exception as err:  # pylint: disable=broad-except
        failures.append('cleanup of %s: %s' % (tool.name, err))


def report(args, tools, figures, failures, leftovers, startup):
    medians = dict((tool, dict((phase, statistics.median(values)) for phase, values in phases.items() if values))
                   for tool, phases in figures.items())
    print('\n%d VMs per tool, %d MiB, 1 vcpu, TCG, template %s; medians of %d round(s):'
          % (args.vms, args.memory, TEMPLATE, args.rounds))
    print('%-15s %8s %8s %8s' % ('tool', 'init', 'start', 'destroy'))
    for tool in figures:
        print('%-15s %s' % (tool, ' '.join('%8s' % ('%.1f' % medians[tool][phase] if phase in medians[tool] else '-')
                                           for phase in PHASES)))
    if startup:
        print('ansible start-up: %.1f s (`ansible localhost -m ping`, median; lago\'s init and destroy '
              'include it, its start once)' % statistics.median(startup))
    lago = medians.get('lago', {})
    for peer in ('kcli', 'virt-lightning'):
        if peer not in medians or not lago:
            continue
        theirs = medians[peer]
        ratios = []
        for phase in PHASES:
            if phase in lago and phase in theirs:
                ratios.append('%s %.2f' % (phase, lago[phase] / theirs[phase]))
        if 'init' not in theirs and 'start' in theirs and 'init' in lago and 'start' in lago:
            ratios.append('init+start vs its create+start %.2f' % ((lago['init'] + lago['start']) / theirs['start']))
        print('lago/%s: %s' % (peer, ', '.join(ratios) or 'no common phase measured'))
    for tool in tools:
        for note in tool.notes:
            print('note: %s' % note)
    for failure in failures:
        print('FAILED: %s' % failure)
    print('left behind: %s' % ('; '.join(leftovers) if leftovers else 'nothing (every tool cleaned up after itself)'))


def main(argv=None):
    args = parse_args(argv)
    if args.what == 'prepare':
        return prepare(args)
    return bench(args)


if __name__ == '__main__':
    sys.exit(main())
