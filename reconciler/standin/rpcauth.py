"""Bitcoin Core's rpcauth check (share/rpcauth/rpcauth.py): HMAC-SHA256 keyed with the salt's hex string."""
import hashlib
import hmac


def rpcauth_hash(salt_hex: str, password: str) -> str:
    return hmac.new(salt_hex.encode(), password.encode(), hashlib.sha256).hexdigest()


def rpcauth_line(user: str, salt_hex: str, password: str) -> str:
    return f"rpcauth={user}:{salt_hex}${rpcauth_hash(salt_hex, password)}"


def parse_rpcauth(value: str) -> tuple[str, str, str] | None:
    """'user:salt$hash' -> (user, salt, hash); None when malformed (bitcoind ignores such entries)."""
    user, sep, rest = value.partition(":")
    salt, sep2, digest = rest.partition("$")
    if not (sep and sep2 and user and salt and len(digest) == 64):
        return None
    return user, salt, digest.lower()


def check(entries: list[str], user: str, password: str) -> bool:
    ok = False
    for entry in entries:
        parsed = parse_rpcauth(entry)
        if parsed and hmac.compare_digest(parsed[0].encode(), user.encode()):
            # compare every matching entry; constant time per entry
            ok |= hmac.compare_digest(rpcauth_hash(parsed[1], password).encode(), parsed[2].encode())
    return ok
