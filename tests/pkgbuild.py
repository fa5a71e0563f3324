# -*- coding: utf-8 -*-
"""Build tiny real packages for tests: a ``.deb`` (dpkg-deb) and a ``.rpm``
(rpmbuild), plus a local yum repository (createrepo_c) and its ``.repo`` file.

The package installs ``/usr/bin/<name>``, a shell script that appends a line
to ``/var/log/<name>.log``; the ``.deb``'s postinst runs it once, so
installing the package leaves that log behind (what the VM test collects).
The ``.deb`` is architecture ``all`` with a complete control file: it
installs with apt on Debian bookworm.
"""

from __future__ import absolute_import, division, print_function

import configparser
import os
import shutil
import subprocess

DEFAULT_NAME = 'lago-hello'

# Shell lines for a deploy script: install lago-hello with apt from $LAGO_REPO_URL only (the
# internal repository; the lab has no internet), as Lago's deploy scripts did with reposetup's.
APT_INSTALL_HELLO = '''\
echo "deb [trusted=yes] ${LAGO_REPO_URL} ./" > /etc/apt/sources.list.d/lago.list
apt_get() {
    apt-get -o Dir::Etc::SourceList=/etc/apt/sources.list.d/lago.list -o Dir::Etc::SourceParts=- \\
        -o APT::Get::List-Cleanup=0 "$@"
}
export DEBIAN_FRONTEND=noninteractive
apt_get update
apt_get install -y --no-install-recommends lago-hello
'''


def _script(name, message):
    return ('#!/bin/sh\n'
            'set -e\n'
            'echo "%s $(date -u +%%Y-%%m-%%dT%%H:%%M:%%SZ)" >> /var/log/%s.log\n' % (message, name))


def log_message(name=DEFAULT_NAME, version='1.0'):
    """The text each run of the package's script writes (before its timestamp)."""
    return '%s %s ran' % (name, version)


def build_deb(workdir, name=DEFAULT_NAME, version='1.0', postinst=True):
    """Build ``<workdir>/<name>_<version>_all.deb``; returns its path."""
    root = os.path.join(workdir, 'deb-%s-%s' % (name, version))
    os.makedirs(os.path.join(root, 'DEBIAN'))
    os.makedirs(os.path.join(root, 'usr', 'bin'))
    with open(os.path.join(root, 'DEBIAN', 'control'), 'w') as handle:
        handle.write(
            'Package: %s\n'
            'Version: %s\n'
            'Architecture: all\n'
            'Maintainer: lago.lago developers <lago@example.invalid>\n'
            'Section: misc\n'
            'Priority: optional\n'
            'Depends: dash\n'
            'Description: lago.lago test package\n'
            ' Installs /usr/bin/%s, which appends a line to /var/log/%s.log.\n'
            % (name, version, name, name))
    script = os.path.join(root, 'usr', 'bin', name)
    with open(script, 'w') as handle:
        handle.write(_script(name, log_message(name, version)))
    os.chmod(script, 0o755)
    if postinst:
        path = os.path.join(root, 'DEBIAN', 'postinst')
        with open(path, 'w') as handle:
            handle.write('#!/bin/sh\nset -e\nif [ "$1" = configure ]; then /usr/bin/%s; fi\n' % name)
        os.chmod(path, 0o755)
    out = os.path.join(workdir, '%s_%s_all.deb' % (name, version))
    subprocess.run(['dpkg-deb', '--root-owner-group', '--build', root, out], check=True,
                   stdout=subprocess.DEVNULL)
    return out


def build_rpm(workdir, name=DEFAULT_NAME, version='1.0', release='1'):
    """Build ``<workdir>/<name>-<version>-<release>.noarch.rpm``; returns its path."""
    top = os.path.join(workdir, 'rpmbuild-%s-%s' % (name, version))
    for sub in ('SPECS', 'BUILD', 'RPMS', 'SOURCES', 'SRPMS', 'BUILDROOT'):
        os.makedirs(os.path.join(top, sub))
    spec = os.path.join(top, 'SPECS', '%s.spec' % name)
    with open(spec, 'w') as handle:
        handle.write(
            'Name: %(name)s\nVersion: %(version)s\nRelease: %(release)s\n'
            'Summary: lago.lago test package\nLicense: GPL-2.0-or-later\nBuildArch: noarch\n\n'
            '%%description\nInstalls /usr/bin/%(name)s, which appends a line to /var/log/%(name)s.log.\n\n'
            '%%install\nmkdir -p %%{buildroot}/usr/bin\n'
            'cat > %%{buildroot}/usr/bin/%(name)s <<"EOF"\n%(script)sEOF\n'
            'chmod 755 %%{buildroot}/usr/bin/%(name)s\n\n'
            '%%post\n/usr/bin/%(name)s\n\n'
            '%%files\n/usr/bin/%(name)s\n'
            % dict(name=name, version=version, release=release,
                   script=_script(name, log_message(name, version))))
    # --nodeps: Debian's rpm database is empty, build requirements cannot be checked.
    subprocess.run(['rpmbuild', '--define', '_topdir %s' % top, '--nodeps', '--quiet', '-bb', spec],
                   check=True, stdout=subprocess.DEVNULL)
    built = os.path.join(top, 'RPMS', 'noarch', '%s-%s-%s.noarch.rpm' % (name, version, release))
    out = os.path.join(workdir, os.path.basename(built))
    os.rename(built, out)
    return out


def make_yum_repo(directory, rpms):
    """A yum repository in ``directory`` holding ``rpms`` (moved in), indexed by createrepo_c."""
    os.makedirs(directory, exist_ok=True)
    for rpm in rpms:
        shutil.move(rpm, os.path.join(directory, os.path.basename(rpm)))
    subprocess.run(['createrepo_c', '--quiet', directory], check=True)
    return directory


def write_repo_file(path, sections):
    """A ``.repo`` file; ``sections`` is {section: {key: value}} (``gpgcheck=0`` by default)."""
    parser = configparser.ConfigParser(interpolation=None)
    for section, options in sections.items():
        parser[section] = dict({'name': section, 'enabled': '1', 'gpgcheck': '0'}, **options)
    with open(path, 'w') as handle:
        parser.write(handle)
    return path


_REPO_NS = '{http://linux.duke.edu/metadata/repo}'
_COMMON_NS = '{http://linux.duke.edu/metadata/common}'


def rpm_repo_packages(repo_dir):
    """``{name: (version, location)}`` listed by a yum repository's primary.xml.gz."""
    import gzip
    from xml.etree import ElementTree
    repomd = ElementTree.parse(os.path.join(repo_dir, 'repodata', 'repomd.xml')).getroot()
    href = [d.find(_REPO_NS + 'location').get('href')
            for d in repomd.findall(_REPO_NS + 'data') if d.get('type') == 'primary'][0]
    with gzip.open(os.path.join(repo_dir, href)) as handle:
        primary = ElementTree.parse(handle).getroot()
    result = {}
    for pkg in primary.findall(_COMMON_NS + 'package'):
        version = pkg.find(_COMMON_NS + 'version')
        result[pkg.find(_COMMON_NS + 'name').text] = (
            '%s-%s' % (version.get('ver'), version.get('rel')), pkg.find(_COMMON_NS + 'location').get('href'))
    return result


def apt_packages(packages_text):
    """``{Package: stanza dict}`` of an apt ``Packages`` file's text."""
    result = {}
    for stanza in packages_text.strip().split('\n\n'):
        fields = {}
        for line in stanza.splitlines():
            if line and not line[0].isspace() and ':' in line:
                key, value = line.split(':', 1)
                fields[key] = value.strip()
        if fields:
            result[fields['Package']] = fields
    return result
