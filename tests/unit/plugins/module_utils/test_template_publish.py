# -*- coding: utf-8 -*-
"""template_publish: requests refused before anything is written, and the plan of publishing."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.lago.lago.plugins.module_utils import template_publish
from ansible_collections.lago.lago.plugins.module_utils.errors import TemplateError


@pytest.mark.parametrize('kwargs, fragment', [
    (dict(metadata={}), 'distro'),
    (dict(metadata=None), 'distro'),
    (dict(name='../x'), "'../x'"),
    (dict(version='a/b'), "'a/b'"),
    (dict(repo_path='http://host/repo.json'), 'local repository'),
    (dict(timestamp='now'), 'timestamp'),
    (dict(hash_algorithm='md5'), 'md5'),
    (dict(image='/nonexistent/image'), '/nonexistent/image'),
])
def test_publish_refuses_bad_requests_before_touching_anything(tmp_path, kwargs, fragment):
    image = tmp_path / 'img'
    image.write_bytes(b'x')
    args = dict(repo_path=str(tmp_path / 'repo' / 'repo.json'), image=str(image), name='t', version='v1',
                metadata={'distro': 'debian'})
    args.update(kwargs)
    with pytest.raises(TemplateError) as err:
        template_publish.plan_publish(**args)
    assert fragment in str(err.value)
    assert not (tmp_path / 'repo').exists()
