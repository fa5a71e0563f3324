# -*- coding: utf-8 -*-
"""reposetup and its server, for real: packages built with dpkg-deb and
rpmbuild, yum repositories made by createrepo_c and synchronized by dnf
reposync (one over file://, one over HTTP from 127.0.0.1 inside the lab),
the merged repository served by lago_reposerver and read back by urllib,
dnf and apt. No VMs."""

from __future__ import absolute_import, division, print_function

import functools
import gzip
import hashlib
import http.server
import json
import os
import re
import socket
import subprocess
import threading
import urllib.error
import urllib.request

import pytest

import pkgbuild
from ansible_collections.lago.lago.plugins.module_utils import repo_setup, repo_sync, repos, reposerver, yum_repo
from ansible_collections.lago.lago.plugins.module_utils.errors import LockTimeout, RepoError
from ansible_collections.lago.lago.plugins.module_utils.files import file_lock, write_json

pytestmark = pytest.mark.lab

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope='module')
def sources(tmp_path_factory):
    """Packages and repositories: a yum repo over file://, one over HTTP, local rpm and deb dirs."""
    work = str(tmp_path_factory.mktemp('reposrc'))
    file_repo = pkgbuild.make_yum_repo(os.path.join(work, 'yum-file'), [pkgbuild.build_rpm(work, 'lago-hello')])
    http_repo = pkgbuild.make_yum_repo(os.path.join(work, 'yum-http'), [pkgbuild.build_rpm(work, 'lago-served')])
    local_rpms = os.path.join(work, 'local-rpms')
    os.makedirs(os.path.join(local_rpms, 'sub'))
    os.rename(pkgbuild.build_rpm(work, 'lago-local'), os.path.join(local_rpms, 'sub', 'lago-local-1.0-1.noarch.rpm'))
    local_debs = os.path.join(work, 'local-debs')
    os.makedirs(local_debs)
    deb = pkgbuild.build_deb(work)
    os.rename(deb, os.path.join(local_debs, os.path.basename(deb)))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(_Quiet, directory=http_repo))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    repo_file = pkgbuild.write_repo_file(os.path.join(work, 'lab.repo'), {
        'lago-file': {'baseurl': 'file://%s/' % file_repo},
        'lago-http': {'baseurl': 'http://127.0.0.1:%d/' % server.server_address[1]},
        'lago-off': {'baseurl': 'file:///nonexistent/', 'enabled': '0'},
    })
    try:
        yield dict(work=work, repo_file=repo_file, local_rpms=local_rpms, local_debs=local_debs,
                   file_repo=file_repo, http_repo=http_repo)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def prefix(tmp_path):
    path = tmp_path / 'prefix'
    path.mkdir()
    yield str(path)
    reposerver.stop(str(path))


@pytest.fixture
def cache(tmp_path):
    return str(tmp_path / 'reposync')


def setup(prefix, sources, cache, **kwargs):
    args = dict(repo_file=sources['repo_file'], local_rpm_dirs=[sources['local_rpms']],
                local_deb_dirs=[sources['local_debs']], reposync_dir=cache)
    args.update(kwargs)
    return repo_setup.reposetup(prefix, **args)


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def servers_of(root):
    """Pids of repository servers (reposerver.server_argv: python -c <repo_http> root ...)
    serving ``root``."""
    found = []
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as handle:
                argv = handle.read().split(b'\0')
        except OSError:
            continue
        if len(argv) > 3 and argv[1] == b'-c' and b'def serve' in argv[2] and argv[3] == root.encode():
            found.append(int(pid))
    return found


def port_open(port, host='127.0.0.1'):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def fetch(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


# --- building ---------------------------------------------------------------------------------

def test_sync_merge_and_index(prefix, sources, cache):
    result = setup(prefix, sources, cache)
    dest = os.path.join(prefix, 'internal_repo', 'internal')
    assert result['changed'] is True
    assert result['path'] == dest
    assert result['flavours'] == ['deb', 'rpm']
    assert result['rpm_packages'] == ['lago-hello-1.0-1.noarch.rpm', 'lago-local-1.0-1.noarch.rpm',
                                      'lago-served-1.0-1.noarch.rpm']
    assert result['deb_packages'] == ['lago-hello_1.0_all.deb']
    assert sorted(result['synced']) == ['lago-file', 'lago-http']  # lago-off is disabled
    assert result['synced']['lago-http']['packages'] == ['lago-served-1.0-1.noarch.rpm']
    assert result['warnings'] == []
    # the yum index lists every rpm, from both synced sections and the local dir
    listed = pkgbuild.rpm_repo_packages(dest)
    assert listed == {'lago-hello': ('1.0-1', 'lago-hello-1.0-1.noarch.rpm'),
                      'lago-served': ('1.0-1', 'lago-served-1.0-1.noarch.rpm'),
                      'lago-local': ('1.0-1', 'lago-local-1.0-1.noarch.rpm')}
    # the apt index lists the deb, with its real checksum, and Release covers Packages
    with open(os.path.join(dest, 'Packages')) as handle:
        packages_text = handle.read()
    stanza = pkgbuild.apt_packages(packages_text)['lago-hello']
    assert stanza['Filename'] == './lago-hello_1.0_all.deb'
    assert stanza['Architecture'] == 'all'
    assert stanza['SHA256'] == result['checksums']['lago-hello_1.0_all.deb']
    with gzip.open(os.path.join(dest, 'Packages.gz'), 'rt') as handle:
        assert handle.read() == packages_text
    with open(os.path.join(dest, 'Release')) as handle:
        release = handle.read()
    assert ' %s %d Packages\n' % (hashlib.sha256(packages_text.encode()).hexdigest(),
                                  len(packages_text.encode())) in release
    assert 'Date: ' in release
    # synced packages are hard links into the shared cache
    cached = os.path.join(result['synced']['lago-file']['path'], 'lago-hello-1.0-1.noarch.rpm')
    assert os.path.samefile(cached, os.path.join(dest, 'lago-hello-1.0-1.noarch.rpm'))
    assert os.path.basename(os.path.dirname(cached)).startswith('lago-file-')


def test_rebuild_with_same_inputs_changes_nothing(prefix, sources, cache):
    first = setup(prefix, sources, cache)
    dest = first['path']
    stamp = dict((name, os.stat(os.path.join(dest, name)).st_mtime_ns)
                 for name in ('Packages', 'Release', 'repodata/repomd.xml'))
    second = setup(prefix, sources, cache)
    assert second['changed'] is False
    assert (second['added'], second['removed'], second['updated'], second['reindexed']) == ([], [], [], [])
    assert second['checksums'] == first['checksums']
    assert second['diff']['before'] == second['diff']['after']
    assert stamp == dict((name, os.stat(os.path.join(dest, name)).st_mtime_ns) for name in stamp)
    assert setup(prefix, sources, cache, check_mode=True)['changed'] is False


def test_changes_are_predicted_then_applied(prefix, sources, cache, tmp_path):
    setup(prefix, sources, cache)
    dest = os.path.join(prefix, 'internal_repo', 'internal')
    # drop the local rpms, add a second deb version
    more_debs = str(tmp_path / 'more-debs')
    os.makedirs(more_debs)
    pkgbuild.build_deb(more_debs, version='2.0')
    kwargs = dict(local_rpm_dirs=[], local_deb_dirs=[sources['local_debs'], more_debs])
    predicted = setup(prefix, sources, cache, check_mode=True, **kwargs)
    assert predicted['changed'] is True
    assert predicted['added'] == ['lago-hello_2.0_all.deb']
    assert predicted['removed'] == ['lago-local-1.0-1.noarch.rpm']
    assert sorted(predicted['reindexed']) == ['deb', 'rpm']
    assert 'lago-local-1.0-1.noarch.rpm' in predicted['diff']['before']
    assert 'lago-local-1.0-1.noarch.rpm' not in predicted['diff']['after']
    assert os.path.exists(os.path.join(dest, 'lago-local-1.0-1.noarch.rpm'))  # check mode touched nothing
    applied = setup(prefix, sources, cache, **kwargs)
    assert (applied['changed'], applied['added'], applied['removed']) == (
        True, predicted['added'], predicted['removed'])
    assert 'lago-local' not in pkgbuild.rpm_repo_packages(dest)
    with open(os.path.join(dest, 'Packages')) as handle:
        assert '\nVersion: 2.0\n' in handle.read()
    assert not os.path.exists(os.path.join(dest, 'lago-local-1.0-1.noarch.rpm'))
    # rpm only now: the apt index and the debs go
    rpm_only = setup(prefix, sources, cache, local_rpm_dirs=[], local_deb_dirs=[])
    assert rpm_only['flavours'] == ['rpm'] and rpm_only['reindexed'] == ['deb']
    assert not any(os.path.exists(os.path.join(dest, n)) for n in ('Packages', 'Packages.gz', 'Release',
                                                                   'lago-hello_1.0_all.deb'))


def test_content_change_under_the_same_name_is_an_update(prefix, sources, cache, tmp_path):
    local = str(tmp_path / 'debs')
    os.makedirs(local)
    deb = pkgbuild.build_deb(local)
    repo_setup.reposetup(prefix, local_deb_dirs=[local], reposync_dir=cache)
    os.unlink(deb)  # the hard link in the prefix keeps the old content
    os.makedirs(str(tmp_path / 'rebuild'))
    os.rename(pkgbuild.build_deb(str(tmp_path / 'rebuild'), postinst=False), deb)
    result = repo_setup.reposetup(prefix, local_deb_dirs=[local], reposync_dir=cache)
    assert (result['changed'], result['updated'], result['reindexed']) == (True, ['lago-hello_1.0_all.deb'], ['deb'])
    with open(os.path.join(result['path'], 'Packages')) as handle:
        assert pkgbuild.apt_packages(handle.read())['lago-hello']['SHA256'] == result['checksums']['lago-hello_1.0_all.deb']


def test_lost_manifest_is_rebuilt_in_place(prefix, sources, cache):
    first = setup(prefix, sources, cache)
    manifest = os.path.join(first['path'], repos.MANIFEST)
    with open(manifest, 'w') as handle:
        handle.write('{not json')
    again = setup(prefix, sources, cache)
    assert again['changed'] is True and sorted(again['reindexed']) == ['deb', 'rpm']
    assert again['checksums'] == first['checksums']
    assert sorted(n for n in os.listdir(first['path']) if n.startswith('.')) == [repos.MANIFEST]
    assert setup(prefix, sources, cache)['changed'] is False


def test_newest_only_and_upstream_updates(prefix, cache, tmp_path):
    work = str(tmp_path)
    upstream = pkgbuild.make_yum_repo(os.path.join(work, 'upstream'), [
        pkgbuild.build_rpm(work, 'lago-up', '1.0'), pkgbuild.build_rpm(work, 'lago-up', '1.1')])
    repo_file = pkgbuild.write_repo_file(os.path.join(work, 'up.repo'), {'up': {'baseurl': 'file://%s' % upstream}})
    first = repo_setup.reposetup(prefix, repo_file=repo_file, reposync_dir=cache)
    assert first['rpm_packages'] == ['lago-up-1.1-1.noarch.rpm']
    assert pkgbuild.rpm_repo_packages(first['path']) == {'lago-up': ('1.1-1', 'lago-up-1.1-1.noarch.rpm')}
    pkgbuild.make_yum_repo(upstream, [pkgbuild.build_rpm(work, 'lago-up', '2.0')])
    second = repo_setup.reposetup(prefix, repo_file=repo_file, reposync_dir=cache)
    assert (second['changed'], second['added'], second['removed']) == (
        True, ['lago-up-2.0-1.noarch.rpm'], ['lago-up-1.1-1.noarch.rpm'])
    assert pkgbuild.rpm_repo_packages(second['path']) == {'lago-up': ('2.0-1', 'lago-up-2.0-1.noarch.rpm')}
    # the shared cache keeps the newest only, too
    assert os.listdir(second['synced']['up']['path']) == ['lago-up-2.0-1.noarch.rpm']


# --- errors -----------------------------------------------------------------------------------

def _nothing_built(prefix):
    return not os.path.exists(os.path.join(prefix, 'internal_repo', 'internal'))


def test_unknown_section(prefix, sources, cache):
    with pytest.raises(RepoError) as err:
        setup(prefix, sources, cache, sections=['lago-file', 'nosuch'])
    assert "no section 'nosuch'" in str(err.value) and sources['repo_file'] in str(err.value)
    assert _nothing_built(prefix)


def test_missing_and_empty_local_dirs(prefix, sources, cache, tmp_path):
    with pytest.raises(RepoError) as err:
        setup(prefix, sources, cache, local_rpm_dirs=[str(tmp_path / 'gone')])
    assert str(err.value) == 'local_rpm_dirs: %s does not exist' % (tmp_path / 'gone')
    with pytest.raises(RepoError) as err:
        setup(prefix, sources, cache, local_deb_dirs=[sources['local_rpms']])
    assert str(err.value) == 'local_deb_dirs: %s holds no .deb packages' % sources['local_rpms']
    assert _nothing_built(prefix)


def test_reposync_failure_names_the_section(prefix, sources, cache):
    with pytest.raises(RepoError) as err:
        setup(prefix, sources, cache, sections=['lago-off'])
    message = str(err.value)
    assert message.startswith('reposync of section [lago-off] from %s failed: ' % sources['repo_file'])
    assert "Failed to download metadata for repo 'lago-off'" in message
    assert 'Unable to detect release version' not in message
    assert _nothing_built(prefix)


def test_reposync_waits_for_the_section_lock(prefix, sources, cache):
    parsed = yum_repo.parse_repo_file(sources['repo_file'])
    with file_lock(repo_sync.sync_lock_path(repo_sync.sync_path(cache, 'lago-file', parsed['lago-file']))):
        with pytest.raises(LockTimeout, match=r'reposync of \[lago-file\]'):
            repo_sync.reposync(sources['repo_file'], ['lago-file'], cache, lock_timeout=0.3)
        # another section is not blocked
        assert list(repo_sync.reposync(sources['repo_file'], ['lago-http'], cache, lock_timeout=0.3)) == ['lago-http']


# --- serving ----------------------------------------------------------------------------------

def test_serve_fetch_and_stop(prefix, sources, cache):
    built = setup(prefix, sources, cache)
    root = os.path.join(prefix, 'internal_repo')
    port = free_port()
    started = reposerver.start(prefix, '127.0.0.1', port)
    assert started['changed'] is True and started['before'] == {'state': 'stopped'}
    pid = started['record']['pid']
    with open(os.path.join(prefix, 'reposerver.json')) as handle:
        record = json.load(handle)
    assert (record['pid'], record['bind'], record['port'], record['root']) == (pid, '127.0.0.1', port, root)
    base = 'http://127.0.0.1:%d/internal/' % port
    with open(os.path.join(built['path'], 'Packages'), 'rb') as handle:
        assert fetch(base + 'Packages') == handle.read()
    assert b'<repomd' in fetch(base + 'repodata/repomd.xml')
    # nothing outside internal_repo is reachable
    with pytest.raises(urllib.error.HTTPError) as err:
        fetch('http://127.0.0.1:%d/../reposerver.json' % port)
    assert err.value.code == 404
    # idempotent
    again = reposerver.start(prefix, '127.0.0.1', port)
    assert again['changed'] is False and again['record']['pid'] == pid
    assert reposerver.start(prefix, '127.0.0.1', port, check_mode=True)['changed'] is False
    # check mode stop touches nothing
    assert reposerver.stop(prefix, check_mode=True)['changed'] is True
    assert port_open(port)
    stopped = reposerver.stop(prefix)
    assert stopped['changed'] is True and stopped['after'] == {'state': 'stopped'}
    assert not port_open(port)
    assert not os.path.exists('/proc/%d' % pid) or reposerver._cmdline(pid) != record['argv']
    assert not os.path.exists(os.path.join(prefix, 'reposerver.json'))
    assert servers_of(root) == []
    assert reposerver.stop(prefix)['changed'] is False


def test_guest_clients_read_the_served_repository(prefix, sources, cache, tmp_path):
    """dnf reposync and apt-get read the served repository as guests will."""
    built = setup(prefix, sources, cache)
    port = free_port()
    reposerver.start(prefix, '127.0.0.1', port)
    urls = repos.repo_urls('127.0.0.1', 'internal', port)
    # dnf, through the yum_repo text the module returns
    guest_repo = tmp_path / 'guest.repo'
    guest_repo.write_text(urls['yum_repo'])
    synced = repo_sync.reposync(str(guest_repo), None, str(tmp_path / 'guest-cache'))
    assert sorted(synced['lago-internal']['packages']) == built['rpm_packages']
    # apt, through the apt_source line
    apt = tmp_path / 'apt'
    for sub in ('lists/partial', 'cache/archives/partial', 'parts', 'prefs'):
        (apt / sub).mkdir(parents=True)
    (apt / 'sources.list').write_text(urls['apt_source'] + '\n')
    options = []
    for key, value in (('Dir::Etc::SourceList', apt / 'sources.list'), ('Dir::Etc::SourceParts', apt / 'parts'),
                       ('Dir::Etc::PreferencesParts', apt / 'prefs'), ('Dir::State::Lists', apt / 'lists'),
                       ('Dir::Cache', apt / 'cache'), ('Debug::NoLocking', '1'), ('APT::Sandbox::User', 'root')):
        options += ['-o', '%s=%s' % (key, value)]
    update = subprocess.run(['apt-get'] + options + ['update'], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert update.returncode == 0, update.stdout
    assert not [line for line in update.stdout.splitlines() if line.startswith(('W:', 'E:', 'Err:'))], update.stdout
    download = subprocess.run(['apt-get'] + options + ['download', 'lago-hello'], cwd=str(apt),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert download.returncode == 0, download.stdout
    with open(str(apt / 'lago-hello_1.0_all.deb'), 'rb') as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == built['checksums']['lago-hello_1.0_all.deb']


def test_bind_elsewhere_fails_and_leaves_nothing(prefix, sources, cache):
    setup(prefix, sources, cache, local_rpm_dirs=[], repo_file=None)
    root = os.path.join(prefix, 'internal_repo')
    port = free_port()
    with pytest.raises(RepoError) as err:
        reposerver.start(prefix, '192.0.2.1', port)  # TEST-NET-1: on no host of ours
    assert str(err.value) == 'cannot serve on 192.0.2.1 port %d: address 192.0.2.1 is not on this host' % port
    assert servers_of(root) == [] and not os.path.exists(os.path.join(prefix, 'reposerver.json'))
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(('127.0.0.1', port))
        taken.listen(1)
        with pytest.raises(RepoError) as err:
            reposerver.start(prefix, '127.0.0.1', port)
        assert str(err.value) == 'cannot serve on 127.0.0.1 port %d: port %d on 127.0.0.1 is already in use' % (port, port)
    assert servers_of(root) == [] and not os.path.exists(os.path.join(prefix, 'reposerver.json'))


def test_nothing_to_serve(prefix):
    port = free_port()
    with pytest.raises(RepoError, match='nothing to serve: .*internal_repo does not exist'):
        reposerver.start(prefix, '127.0.0.1', port)
    # a checked play builds no repository either: the start is predicted, the bind is checked
    assert reposerver.start(prefix, '127.0.0.1', port, check_mode=True)['changed'] is True
    with pytest.raises(RepoError, match='address 192.0.2.1 is not on this host'):
        reposerver.start(prefix, '192.0.2.1', port, check_mode=True)
    assert os.listdir(prefix) == []


def test_stale_record_and_foreign_pid(prefix, sources, cache):
    setup(prefix, sources, cache, local_rpm_dirs=[], repo_file=None)
    record_path = os.path.join(prefix, 'reposerver.json')
    # a live pid that is not our server (this test process) is never signalled
    write_json(record_path, {'pid': os.getpid(), 'bind': '127.0.0.1', 'port': 1, 'argv': ['nope']})
    assert reposerver.status(prefix)['stale'] is True
    assert reposerver.stop(prefix)['changed'] is True
    assert not os.path.exists(record_path)
    # a stale record is replaced by a real server
    write_json(record_path, {'pid': 2 ** 22 + 1, 'bind': '127.0.0.1', 'port': 1, 'argv': ['nope']})
    port = free_port()
    started = reposerver.start(prefix, '127.0.0.1', port)
    assert started['changed'] is True and started['before'] == {'state': 'stopped'}
    assert port_open(port)
    # another port restarts it there
    other = free_port()
    moved = reposerver.start(prefix, '127.0.0.1', other)
    assert moved['changed'] is True and moved['before']['port'] == port
    assert port_open(other) and not port_open(port)
    assert servers_of(os.path.join(prefix, 'internal_repo')) == [moved['record']['pid']]


# --- through ansible --------------------------------------------------------------------------

def _ansible(argv, **kwargs):
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_LOCALHOST_WARNING='0', ANSIBLE_INVENTORY_UNPARSED_WARNING='0')
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          env=env, cwd=REPO, check=False, **kwargs)


def _adhoc_result(output):
    return json.loads(output[output.index('=> {') + 3:])


def test_modules_through_ansible(prefix, sources, cache, tmp_path):
    playbook = tmp_path / 'reposetup.yml'
    result_file = tmp_path / 'result.json'
    port = free_port()
    playbook.write_text('''
- name: Reposetup through the role
  hosts: localhost
  gather_facts: false
  vars:
    lago_prefix_path: %(prefix)s
    reposetup_repo_file: %(repo_file)s
    reposetup_sections: [lago-file, lago-http]
    reposetup_local_deb_dirs: [%(debs)s]
    reposetup_reposync_dir: %(cache)s
    reposetup_serve: true
    reposetup_bind: 127.0.0.1
    reposetup_port: %(port)d
  roles:
    - lago.lago.reposetup
  tasks:
    - name: Keep the result
      when: keep_result | default(true) | bool
      ansible.builtin.copy:
        content: "{{ {'repo': reposetup_repo, 'server': reposetup_server} | to_json }}"
        dest: %(result)s
        mode: "0644"

- name: Stop serving through the role
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Stop the server
      when: stop | default(false) | bool
      ansible.builtin.include_role:
        name: lago.lago.reposetup
        tasks_from: stop
      vars:
        lago_prefix_path: %(prefix)s
''' % dict(prefix=prefix, repo_file=sources['repo_file'], debs=sources['local_debs'], cache=cache,
           port=port, result=result_file))
    # a checked run on the fresh prefix predicts the build and the start, and does neither
    checked = _ansible(['ansible-playbook', '--check', str(playbook), '-e', 'keep_result=false'])
    assert checked.returncode == 0 and 'changed=2 ' in checked.stdout, checked.stdout
    assert os.listdir(prefix) == [] and not port_open(port)
    first = _ansible(['ansible-playbook', str(playbook)])
    assert first.returncode == 0, first.stdout
    assert 'changed=3 ' in first.stdout, first.stdout  # build, serve, keep the result
    with open(str(result_file)) as handle:
        result = json.load(handle)
    assert result['repo']['apt_source'] == 'deb [trusted=yes] http://127.0.0.1:%d/internal/ ./' % port
    assert result['repo']['rpm_packages'] == ['lago-hello-1.0-1.noarch.rpm', 'lago-served-1.0-1.noarch.rpm']
    assert result['server']['url'] == 'http://127.0.0.1:%d/' % port
    assert b'lago-hello' in fetch(result['repo']['url'] + 'Packages')
    pid = result['server']['pid']
    # the same run again changes nothing: same repository, same server
    second = _ansible(['ansible-playbook', str(playbook), '-e', 'keep_result=false'])
    assert second.returncode == 0, second.stdout
    assert 'changed=0 ' in second.stdout and 'failed=0 ' in second.stdout, second.stdout
    assert reposerver.status(prefix)['record']['pid'] == pid
    # ad hoc, check mode with diff: nothing would change
    check = _ansible(['ansible', 'localhost', '--check', '--diff', '-m', 'lago.lago.lago_reposetup', '-a',
                      'prefix=%s local_deb_dirs=%s flavour=both reposync_dir=%s repo_file=%s sections=lago-file,lago-http'
                      % (prefix, sources['local_debs'], cache, sources['repo_file'])])
    assert check.returncode == 0 and 'localhost | SUCCESS' in check.stdout, check.stdout
    assert _adhoc_result(check.stdout)['changed'] is False
    # ad hoc, check mode with diff: dropping the debs would change the package list
    drop = _ansible(['ansible', 'localhost', '--check', '--diff', '-m', 'lago.lago.lago_reposetup', '-a',
                     'prefix=%s reposync_dir=%s repo_file=%s sections=lago-file,lago-http'
                     % (prefix, cache, sources['repo_file'])])
    assert drop.returncode == 0 and 'localhost | CHANGED' in drop.stdout, drop.stdout
    assert re.search(r'^-\s*"lago-hello_1.0_all.deb sha256:', drop.stdout, re.M), drop.stdout
    assert _adhoc_result(drop.stdout)['removed'] == ['lago-hello_1.0_all.deb']
    # a bad bind fails with the address and port, and the running server stays as it was
    bad = _ansible(['ansible', 'localhost', '-m', 'lago.lago.lago_reposerver', '-a',
                    'prefix=%s bind=192.0.2.1 port=%d' % (prefix, port)])
    assert bad.returncode != 0 and 'address 192.0.2.1 is not on this host' in bad.stdout, bad.stdout
    assert port_open(port) and reposerver.status(prefix)['record']['pid'] == pid
    # stop through the role
    stop = _ansible(['ansible-playbook', str(playbook), '-e', 'keep_result=false', '-e', 'stop=true'])
    assert stop.returncode == 0 and 'changed=1 ' in stop.stdout, stop.stdout
    assert not port_open(port)
    assert servers_of(os.path.join(prefix, 'internal_repo')) == []
