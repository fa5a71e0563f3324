# -*- coding: utf-8 -*-
"""Every EXAMPLES block of the collection's modules and plugins is valid YAML.

YAML itself lets a later key replace an earlier one; here a duplicate key is
an error (two examples pasted into one document read as one broken example).
The documentation strings are read from the source (ast), so a module is
never imported for this.
"""

from __future__ import absolute_import, division, print_function

import ast
import glob
import os

import pytest
import yaml

from ansible.plugins.doc_fragments import constructed, inventory_cache

PLUGINS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
                       'plugins')
KINDS = ('modules', 'inventory', 'lookup', 'filter')
FILES = sorted(path for kind in KINDS for path in glob.glob(os.path.join(PLUGINS, kind, '*.py'))
               if os.path.basename(path) != '__init__.py')


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping."""


def _mapping(loader, node, deep=False):
    seen = {}
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                'while reading a mapping', node.start_mark,
                'found the key %r a second time (first at line %d)' % (key, seen[key] + 1), key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def strict_load_all(text):
    return list(yaml.load_all(text, Loader=StrictLoader))


def doc_strings(path):
    """{name: value} of the module-level string constants DOCUMENTATION, EXAMPLES, RETURN."""
    with open(path) as handle:
        tree = ast.parse(handle.read(), path)
    strings = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in ('DOCUMENTATION', 'EXAMPLES', 'RETURN'):
                    strings[target.id] = node.value.value
    return strings


def test_the_loader_refuses_duplicate_keys():
    assert strict_load_all('a: 1\nb: {c: 1}\n---\na: 2\n') == [{'a': 1, 'b': {'c': 1}}, {'a': 2}]
    with pytest.raises(yaml.constructor.ConstructorError, match="found the key 'a' a second time"):
        strict_load_all('a: 1\nb: 2\na: 3\n')
    with pytest.raises(yaml.constructor.ConstructorError, match="found the key 'x' a second time"):
        strict_load_all('- name: t\n  m:\n    x: 1\n    x: 2\n')


def test_every_kind_has_files():
    assert {os.path.basename(os.path.dirname(path)) for path in FILES} == set(KINDS)


@pytest.mark.parametrize('path', FILES, ids=lambda path: os.path.relpath(path, PLUGINS))
def test_examples_are_valid_yaml_without_duplicate_keys(path):
    examples = doc_strings(path).get('EXAMPLES')
    assert examples and examples.strip(), '%s has no EXAMPLES' % path
    documents = [document for document in strict_load_all(examples) if document is not None]
    assert documents, '%s: EXAMPLES holds no YAML' % path
    if os.path.basename(os.path.dirname(path)) == 'inventory':
        # each document is one configuration file of the plugin
        assert all(isinstance(document, dict) for document in documents)
    else:
        # one document: a list of tasks
        assert len(documents) == 1, '%s: EXAMPLES of a module or lookup is one list of tasks' % path
        assert isinstance(documents[0], list) and all(isinstance(task, dict) for task in documents[0])


def test_inventory_examples_use_only_the_plugins_options():
    strings = doc_strings(os.path.join(PLUGINS, 'inventory', 'lago.py'))
    options = set(yaml.safe_load(strings['DOCUMENTATION'])['options'])
    for fragment in (constructed, inventory_cache):
        options |= set(yaml.safe_load(fragment.ModuleDocFragment.DOCUMENTATION)['options'])
    documents = strict_load_all(strings['EXAMPLES'])
    assert len(documents) >= 3
    for document in documents:
        assert document['plugin'] == 'lago.lago.lago'
        assert document['prefixes']
        assert set(document) <= options, sorted(set(document) - options)
