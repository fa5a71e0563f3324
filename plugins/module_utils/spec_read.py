# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading an init file (LagoInitFile) as Lago read it, and its path variables.

``read_init_file`` reads YAML (safe loader: anchors and ``<<:`` merge keys
work) or JSON and returns the raw content; spec_normalize validates it.
Duplicate keys are errors, and so is a file whose aliases expand beyond
MAX_EXPANDED_NODES (a "billion laughs" file of a few hundred bytes would
otherwise expand to billions of values once its data is walked).
``Paths`` expands ``$LAGO_*`` in paths and makes them absolute.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import json
import os
import re

try:
    import yaml
    _SafeLoader = yaml.SafeLoader
except ImportError:  # reported by the modules (the runtime checks libraries)
    yaml = None
    _SafeLoader = object

from ansible_collections.lago.lago.plugins.module_utils.errors import SpecError
from ansible_collections.lago.lago.plugins.module_utils.spec_checks import text, type_name
from ansible_collections.lago.lago.plugins.module_utils.values import fail

TOP_KEYS = ('domains', 'nets')
# A hundred VMs of a rich init file are a few thousand nodes.
MAX_EXPANDED_NODES = 100000
PATH_VARIABLES = ('LAGO_PREFIX_PATH', 'LAGO_INITFILE_PATH', 'LAGO_WORKDIR_PATH')
VARIABLE_RE = re.compile(r'\$(\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))')


class _InitFileLoader(_SafeLoader):
    """The safe loader, plus: duplicate keys are errors, anchored nodes are remembered."""

    def __init__(self, stream):
        super(_InitFileLoader, self).__init__(stream)
        self.anchored_nodes = set()

    def compose_node(self, parent, index):
        event = self.peek_event()
        anchor = None if isinstance(event, yaml.AliasEvent) else event.anchor
        node = super(_InitFileLoader, self).compose_node(parent, index)
        if anchor is not None:
            self.anchored_nodes.add(id(node))
        return node

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            _refuse_duplicate_keys(node)
        return super(_InitFileLoader, self).construct_mapping(node, deep=deep)


def _refuse_duplicate_keys(node):
    # PyYAML silently keeps the last of two equal keys (a VM would vanish);
    # keys brought in by a '<<:' merge may be overridden, so they do not count.
    seen = {}
    for key_node, _value in node.value:
        if key_node.tag == 'tag:yaml.org,2002:merge' or not isinstance(key_node, yaml.ScalarNode):
            continue
        if key_node.value in seen:
            raise yaml.constructor.ConstructorError(
                'while constructing a mapping', node.start_mark,
                'found duplicate key %r (first at line %d)' % (key_node.value, seen[key_node.value] + 1),
                key_node.start_mark)
        seen[key_node.value] = key_node.start_mark.line


def _children(node):
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _refuse_expansion(root, path, limit=MAX_EXPANDED_NODES):
    """Refuse a document whose aliases make it recursive or larger than ``limit`` nodes.

    An alias is the very node it names, so the composed document is a graph:
    each node's expanded size is counted once (depth first, without recursion).
    """
    sizes = {}
    expanding = set()
    stack = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if not children_done:
            expanding.add(id(node))
            stack.append((node, True))
            for child in _children(node):
                if id(child) in expanding:
                    raise SpecError('%s: a YAML alias at line %d refers to a node that contains it (recursive data)'
                                    % (path, child.start_mark.line + 1))
                if id(child) not in sizes:
                    stack.append((child, False))
            continue
        expanding.discard(id(node))
        sizes[id(node)] = 1 + sum(sizes[id(child)] for child in _children(node))
        if sizes[id(node)] > limit:
            raise SpecError('%s: its YAML aliases expand to more than %d values (line %d); an init file '
                            'that large is surely a "billion laughs" file' % (path, limit, node.start_mark.line + 1))


def _json_object(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError('duplicate key %r' % key)
        result[key] = value
    return result


def _parse_json(content, path):
    try:
        return json.loads(content, object_pairs_hook=_json_object)
    except json.JSONDecodeError as err:
        raise SpecError('%s: not valid JSON (line %d, column %d): %s' % (path, err.lineno, err.colno, err.msg))
    except ValueError as err:
        raise SpecError('%s: not valid JSON: %s' % (path, err))
    except RecursionError:
        raise SpecError('%s: not valid JSON: nested too deeply' % path)


def _parse_yaml(content, path):
    """Parse YAML; returns the data without top-level anchor holders."""
    loader = _InitFileLoader(content)
    try:
        root = loader.get_single_node()
        if root is not None:
            _refuse_expansion(root, path)
        data = None if root is None else loader.construct_document(root)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = ' (line %d, column %d)' % (mark.line + 1, mark.column + 1) if mark else ''
        raise SpecError('%s: not valid YAML%s: %s' % (path, where, err.problem or err.context))
    except yaml.YAMLError as err:
        raise SpecError('%s: not valid YAML: %s' % (path, err))
    except RecursionError:
        raise SpecError('%s: not valid YAML: nested too deeply' % path)
    finally:
        loader.dispose()
    if isinstance(data, dict) and isinstance(root, yaml.MappingNode):
        for key_node, value_node in root.value:
            key = key_node.value
            if key not in TOP_KEYS and id(value_node) in loader.anchored_nodes:
                data.pop(key, None)
    return data


def read_init_file(path):
    """The raw content of an init file as a dict (not yet normalized).

    JSON is tried first, as Lago did; a file that does not look like JSON is
    read as YAML. Top-level keys other than domains/nets whose value carries a
    YAML anchor (``vm-common: &vm-common``) only hold shared settings and are
    dropped; any other extra top-level key is left for normalize_spec to refuse.
    """
    try:
        with open(path, 'rb') as handle:
            content = handle.read().decode('utf-8')
    except (IOError, OSError) as err:
        raise SpecError('cannot read init file %s: %s' % (path, err.strerror or err))
    except UnicodeDecodeError as err:
        raise SpecError('%s: not UTF-8 text (byte %d)' % (path, err.start))
    if content.lstrip().startswith('{'):
        try:
            data = _parse_json(content, path)
        except SpecError as json_error:
            # A YAML flow mapping also starts with '{'; the JSON error is the useful one.
            try:
                data = _parse_yaml(content, path)
            except SpecError:
                raise json_error from None
    else:
        data = _parse_yaml(content, path)
    if data is None:
        raise SpecError('%s: the init file is empty; it needs domains: and nets:' % path)
    if not isinstance(data, dict):
        raise SpecError('%s: the init file must be a mapping with domains: and nets:, not a %s'
                        % (path, type_name(data)))
    return data


class Paths(object):
    """Expands Lago's path variables and makes paths absolute against the init file's directory."""

    def __init__(self, base_dir, prefix_path):
        self.base_dir = os.path.abspath(base_dir or os.getcwd())
        prefix = os.path.abspath(prefix_path) if prefix_path else None
        self.variables = {
            'LAGO_INITFILE_PATH': self.base_dir,
            'LAGO_PREFIX_PATH': prefix,
            'LAGO_WORKDIR_PATH': os.path.dirname(prefix) if prefix else None,
        }
        # The hypervisor the VM is pinned to (a multi-host prefix): its pool states are there, not here.
        self.hypervisor = None

    def on_hypervisor(self, hypervisor):
        """These paths for a VM pinned to ``hypervisor`` (None: this host's)."""
        if not hypervisor:
            return self
        pinned = copy.copy(self)
        pinned.hypervisor = hypervisor
        return pinned

    def expand(self, value, place):
        def replace(match):
            name = match.group('braced') or match.group('bare')
            if name not in self.variables:
                fail(place, '$%s: only %s are expanded in paths (use Ansible templating for the rest)'
                     % (name, ', '.join('$' + known for known in PATH_VARIABLES)))
            if self.variables[name] is None:
                fail(place, '$%s is used but no prefix path is known' % name)
            return self.variables[name]
        return VARIABLE_RE.sub(replace, value)

    def local(self, value, place):
        """``value`` (a path) expanded, made absolute and normalized."""
        path = os.path.expanduser(self.expand(text(value, place), place))
        return os.path.normpath(os.path.join(self.base_dir, path))

    def resolve(self, value, place, what='file'):
        """The absolute, normalized path of an existing file."""
        path = self.local(value, place)
        if not os.path.isfile(path):
            fail(place, '%s %s %s' % (what, path, 'is not a file' if os.path.exists(path) else 'does not exist'))
        return path
