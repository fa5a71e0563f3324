# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Passwords as crypt(3) hashes: SHA-512 crypt (``$6$``), the hash chpasswd -e and
/etc/shadow take on every Linux guest.

Python's ``crypt`` module makes it where the Python has one (3.11 does, with a
DeprecationWarning); it is gone from 3.13, and then the small implementation
below (Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512", the algorithm
glibc implements) does, giving the very same strings.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import hmac
import os
import re
import warnings

try:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        import crypt as _crypt
except ImportError:  # Python 3.13 and later
    _crypt = None

ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
DEFAULT_ROUNDS = 5000
SALT_LENGTH = 16
# The byte order of SHA-512 crypt's encoding: 21 groups of three bytes, then byte 63.
_ORDER = ((0, 21, 42), (22, 43, 1), (44, 2, 23), (3, 24, 45), (25, 46, 4), (47, 5, 26), (6, 27, 48),
          (28, 49, 7), (50, 8, 29), (9, 30, 51), (31, 52, 10), (53, 11, 32), (12, 33, 54), (34, 55, 13),
          (56, 14, 35), (15, 36, 57), (37, 58, 16), (59, 17, 38), (18, 39, 60), (40, 61, 19), (62, 20, 41))
_SALT_CHARS = r'[./0-9A-Za-z]'
# Hashes a guest's chpasswd -e takes: SHA-512 and SHA-256 crypt, yescrypt (Debian's default).
_HASH_FORMS = (
    re.compile(r'^\$6\$(rounds=\d+\$)?%s{1,16}\$%s{86}$' % (_SALT_CHARS, _SALT_CHARS)),
    re.compile(r'^\$5\$(rounds=\d+\$)?%s{1,16}\$%s{43}$' % (_SALT_CHARS, _SALT_CHARS)),
    re.compile(r'^\$y\$%s+\$%s+\$%s{43}$' % (_SALT_CHARS, _SALT_CHARS, _SALT_CHARS)),
)
_SHA512_FORM = re.compile(r'^\$6\$(?:rounds=(\d+)\$)?(%s{1,16})\$' % _SALT_CHARS)


def is_crypt_hash(value):
    """True when ``value`` is a crypt hash (SHA-512, SHA-256 or yescrypt) rather than a clear password."""
    return isinstance(value, str) and any(form.match(value) for form in _HASH_FORMS)


def new_salt():
    return ''.join(ALPHABET[byte % 64] for byte in bytearray(os.urandom(SALT_LENGTH)))


def sha512_crypt(password, salt=None, rounds=None):
    """The SHA-512 crypt hash of ``password`` (``$6$<salt>$...``), with a new random salt by default."""
    salt = new_salt() if salt is None else salt
    setting = '$6$%s%s' % ('' if rounds is None else 'rounds=%d$' % rounds, salt)
    if _crypt is not None:
        return _crypt.crypt(password, setting)
    return pure_sha512_crypt(password, salt, rounds)


def pure_sha512_crypt(password, salt, rounds=None):
    """SHA-512 crypt without the crypt module (the same result as glibc's crypt(3))."""
    key = password.encode('utf-8')
    salt_bytes = salt.encode('ascii')[:SALT_LENGTH]
    count = DEFAULT_ROUNDS if rounds is None else min(max(rounds, 1000), 999999999)
    alternate = hashlib.sha512(key + salt_bytes + key).digest()
    first = hashlib.sha512(key + salt_bytes)
    first.update(_repeat(alternate, len(key)))
    length = len(key)
    while length:
        first.update(alternate if length & 1 else key)
        length >>= 1
    digest = first.digest()
    key_sequence = _repeat(hashlib.sha512(key * len(key)).digest(), len(key))
    salt_sequence = _repeat(hashlib.sha512(salt_bytes * (16 + bytearray(digest)[0])).digest(), len(salt_bytes))
    for index in range(count):
        step = hashlib.sha512(key_sequence if index & 1 else digest)
        if index % 3:
            step.update(salt_sequence)
        if index % 7:
            step.update(key_sequence)
        step.update(digest if index & 1 else key_sequence)
        digest = step.digest()
    setting = '$6$%s%s$' % ('' if rounds is None else 'rounds=%d$' % count, salt_bytes.decode('ascii'))
    return setting + _encode(bytearray(digest))


def verify(password, hashed):
    """True when ``hashed`` (a SHA-512 crypt hash) is the hash of ``password``."""
    found = _SHA512_FORM.match(hashed or '')
    if not found:
        return False
    rounds = int(found.group(1)) if found.group(1) else None
    return hmac.compare_digest(sha512_crypt(password, found.group(2), rounds), hashed)


def _repeat(block, length):
    """``length`` bytes of ``block`` repeated."""
    return (block * (length // len(block) + 1))[:length]


def _encode(digest):
    out = []
    for high, middle, low in _ORDER:
        out.append(_b64(digest[high], digest[middle], digest[low], 4))
    out.append(_b64(0, 0, digest[63], 2))
    return ''.join(out)


def _b64(high, middle, low, count):
    word = (high << 16) | (middle << 8) | low
    chars = []
    for _index in range(count):
        chars.append(ALPHABET[word & 0x3f])
        word >>= 6
    return ''.join(chars)
