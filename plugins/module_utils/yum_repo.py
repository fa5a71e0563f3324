# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Yum ``.repo`` files, the source of reposetup's synchronized packages: their sections and which to sync."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import configparser
import os
import re

from ansible_collections.lago.lago.plugins.module_utils.errors import RepoError

_URL_KEYS = ('baseurl', 'mirrorlist', 'metalink')
_BOOL = {'1': True, 'yes': True, 'true': True, 'on': True,
         '0': False, 'no': False, 'false': False, 'off': False}


def parse_repo_file(path):
    """Sections of a yum ``.repo`` file, in file order.

    Returns ``{section: {'name', 'baseurl' (list), 'mirrorlist', 'metalink',
    'enabled' (bool), 'options' (every key, as written)}}``.
    """
    if not os.path.isfile(path):
        raise RepoError('repo_file %s does not exist' % path)
    # No interpolation: URLs carry '%' escapes. No DEFAULT magic: yum has none.
    parser = configparser.ConfigParser(interpolation=None, strict=True,
                                       default_section='\x00lago-none')
    try:
        with open(path) as handle:
            parser.read_file(handle, source=path)
    except (configparser.Error, UnicodeDecodeError) as err:
        raise RepoError('repo_file %s cannot be read: %s' % (path, str(err).strip()))
    repos = {}
    for section in parser.sections():
        options = dict(parser.items(section))
        enabled = options.get('enabled', '1').strip().lower()
        if enabled not in _BOOL:
            raise RepoError('repo_file %s: section [%s]: enabled=%r is not a boolean'
                            % (path, section, options['enabled']))
        repos[section] = {
            'name': options.get('name', section),
            'baseurl': [url for url in re.split(r'[\s,]+', options.get('baseurl', '')) if url],
            'mirrorlist': options.get('mirrorlist', '').strip() or None,
            'metalink': options.get('metalink', '').strip() or None,
            'enabled': _BOOL[enabled],
            'options': options,
        }
    return repos


def choose_sections(repos, sections=None, repo_file='the repo file', releasever=None):
    """The sections to synchronize: ``sections`` (checked), or every enabled one."""
    if sections:
        unknown = [s for s in sections if s not in repos]
        if unknown:
            raise RepoError('repo_file %s has no section %s (it has: %s)'
                            % (repo_file, ', '.join(repr(s) for s in unknown),
                               ', '.join(repos) or 'none'))
        chosen = list(dict.fromkeys(sections))
    else:
        chosen = [s for s, repo in repos.items() if repo['enabled']]
        if not chosen:
            raise RepoError('repo_file %s has no enabled section; name the sections to synchronize'
                            % repo_file)
    for section in chosen:
        repo = repos[section]
        urls = repo['baseurl'] + [u for u in (repo['mirrorlist'], repo['metalink']) if u]
        if not urls:
            raise RepoError('repo_file %s: section [%s] has no baseurl, mirrorlist or metalink'
                            % (repo_file, section))
        if releasever is None and any('$releasever' in url for url in urls):
            raise RepoError('repo_file %s: section [%s] uses $releasever: set releasever'
                            % (repo_file, section))
    return chosen
