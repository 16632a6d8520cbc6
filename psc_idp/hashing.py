"""The one argon2id profile for every secret psc-idp keeps hashed (client secrets, PINs).

OWASP's recommended minimum for argon2id: 19 MiB, 2 passes, 1 lane — about 30 ms of CPU here,
where argon2-cffi's default profile (64 MiB, 3 passes, 4 lanes) took about 210 ms per hash and
as much per check. Hashes made with other parameters still verify (argon2 stores them in the
hash); PINs are re-hashed with this profile at their next successful check.
"""

from __future__ import annotations

from argon2 import PasswordHasher

ARGON2ID = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
