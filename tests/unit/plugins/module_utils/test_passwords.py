# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SHA-512 crypt: the pure implementation against the published test vectors and
against the crypt module (where the Python still has one)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.lago.lago.plugins.module_utils import passwords

# From Ulrich Drepper's specification "Unix crypt using SHA-256 and SHA-512".
VECTORS = [
    ('Hello world!', 'saltstring', None,
     '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1'),
    ('Hello world!', 'saltstringsaltstring', 10000,
     '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.'),
    ('This is just a test', 'toolongsaltstring', 5000,
     '$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0'),
]


@pytest.mark.parametrize('password, salt, rounds, expected', VECTORS)
def test_pure_sha512_crypt_matches_the_specification(password, salt, rounds, expected):
    assert passwords.pure_sha512_crypt(password, salt, rounds) == expected
    assert passwords.sha512_crypt(password, salt, rounds) == expected
    assert passwords.verify(password, expected)
    assert not passwords.verify(password + 'x', expected)


@pytest.mark.skipif(passwords._crypt is None, reason='this Python has no crypt module')
@pytest.mark.parametrize('password', ['123456', 'ünïcödé pässwörd', 'x' * 200, 'a:b$c'])
def test_pure_sha512_crypt_matches_the_crypt_module(password):
    salt = passwords.new_salt()
    assert passwords.pure_sha512_crypt(password, salt) == passwords._crypt.crypt(password, '$6$' + salt)


def test_new_hashes_are_salted_and_verify():
    first, second = passwords.sha512_crypt('123456'), passwords.sha512_crypt('123456')
    assert first != second and first.startswith('$6$') and len(first.split('$')[2]) == 16
    assert passwords.is_crypt_hash(first) and passwords.verify('123456', first) and passwords.verify('123456', second)


@pytest.mark.parametrize('value, expected', [
    (VECTORS[0][3], True), (VECTORS[1][3], True),
    ('$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZF5xIGRjB', True),   # SHA-256 crypt
    ('$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7', True),  # yescrypt
    ('123456', False), ('$ecret', False), ('$6$salt$short', False), ('$1$md5$abc', False), (None, False),
])
def test_is_crypt_hash(value, expected):
    assert passwords.is_crypt_hash(value) is expected


def test_verify_refuses_what_is_not_sha512_crypt():
    assert not passwords.verify('x', '$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZF5xIGRjB')
    assert not passwords.verify('x', None)
