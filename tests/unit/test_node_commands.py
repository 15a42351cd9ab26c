"""node.commands: how a login (root, or a sudo user with system or user units, rootful or rootless
podman) spells its privileged tools, and what `as_root` hands to sudo."""
import shlex

import pytest

from node.commands import ROOT, USER_ENV, Commands, is_simple, login_from_root

SUDO = "sudo -n "


@pytest.mark.parametrize("user,become,scope,rootless", [
    ("root", "", "system", False),
    (None, "", "system", False),
    ("root", "sudo -n", "system", False),    # a root login never prefixes sudo
    ("root", "", "system", True),            # root's podman is root's, rootless or not
])
def test_a_root_login_with_system_units_is_ROOT(user, become, scope, rootless):
    assert Commands.for_login(user, become, scope, rootless) == ROOT
    assert not ROOT.user_scope


def test_a_sudo_login_with_system_units_and_rootful_podman():
    c = Commands.for_login("archipelago", "sudo -n", "system", False)
    assert c == Commands(root=SUDO, systemctl="sudo -n systemctl", journalctl="sudo -n journalctl",
                         podman="sudo -n podman")
    assert not c.user_scope


def test_a_sudo_login_with_system_units_and_rootless_podman():
    c = Commands.for_login("archipelago", "sudo -n", "system", True)
    assert (c.systemctl, c.podman) == ("sudo -n systemctl", f"{USER_ENV} podman")
    assert (c.root_systemctl, c.root_podman) == (
        "systemctl", "runuser -u archipelago -- env XDG_RUNTIME_DIR=/run/user/$(id -u archipelago) podman")


def test_a_sudo_login_with_its_own_user_units_and_rootless_podman():
    """The seeds' node: user units under ~/.config/containers/systemd, podman as the login, the
    journal read as root (it holds the daemon's system-unit lines and the user units' lines)."""
    c = Commands.for_login("archipelago", "sudo", "user", True)   # plain "sudo" still never prompts
    assert c == Commands(root=SUDO, systemctl="XDG_RUNTIME_DIR=/run/user/$(id -u) systemctl --user",
                         journalctl="sudo -n journalctl",
                         podman="XDG_RUNTIME_DIR=/run/user/$(id -u) podman", login="archipelago")
    assert c.user_scope and c.rootless
    assert "sudo" not in c.systemctl and "sudo" not in c.podman   # never root's manager or storage


def test_root_reaches_the_login_s_user_scope_through_runuser():
    """goss and scripts under as_root run as root: `$(id -u)` there is 0, root's own manager and
    rootful podman. They go through the login instead."""
    c = Commands.for_login("archipelago", "sudo -n", "user", True)
    prefix = "runuser -u archipelago -- env XDG_RUNTIME_DIR=/run/user/$(id -u archipelago) "
    assert c.as_login_from_root == prefix
    assert (c.root_systemctl, c.root_podman) == (f"{prefix}systemctl --user", f"{prefix}podman")
    assert login_from_root("archipelago", 1000) == "runuser -u archipelago -- env XDG_RUNTIME_DIR=/run/user/1000 "
    assert login_from_root("a b") == "runuser -u 'a b' -- env XDG_RUNTIME_DIR=/run/user/$(id -u 'a b') "
    for bad in ("", "root"):
        with pytest.raises(ValueError, match="root acts in a user scope of another user"):
            login_from_root(bad)


@pytest.mark.parametrize("user,scope,rootless", [
    ("root", "system", False), ("archipelago", "system", False), ("root", "user", True)])
def test_root_runs_the_tools_as_they_are_where_the_apps_are_root_s(user, scope, rootless):
    """System units and rootful podman: the plain tools. A root login on user units (refused by
    node.preflight) has no other login to go through."""
    c = Commands.for_login(user, "sudo -n", scope, rootless)
    assert (c.as_login_from_root, c.root_podman) == ("", "podman")
    assert c.root_systemctl == "systemctl"


def test_user_units_with_rootful_podman():
    c = Commands.for_login("archipelago", "sudo -n", "user", False)
    assert c.root_systemctl.startswith("runuser -u archipelago -- ") and c.root_podman == "podman"


def test_user_units_with_rootful_podman_and_a_root_login_with_user_units():
    assert Commands.for_login("archipelago", "sudo -n", "user", False).podman == "sudo -n podman"
    root_user = Commands.for_login("root", "", "user", False)
    assert (root_user.root, root_user.journalctl, root_user.podman) == ("", "journalctl", "podman")
    assert root_user.user_scope


@pytest.mark.parametrize("args,msg", [
    (("archipelago", "", "system", False), "login archipelago is not root: set become: sudo -n"),
    (("archipelago", "su -c", "system", False), "become 'su -c': use sudo -n"),
    (("archipelago", "sudo -n", "session", False), "unit scope 'session': use system or user"),
])
def test_bad_logins_are_one_line_errors(args, msg):
    with pytest.raises(ValueError) as e:
        Commands.for_login(*args)
    assert msg in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("cmd", [
    "systemctl restart archipelago.service",
    "sha256sum /var/lib/archipelago/config/bitcoin-knots/bitcoin.conf",
    "find /var/lib/tor /etc/tor/torrc.d -mindepth 1 -maxdepth 1 -name 'archy-*'",   # quoted glob
    "journalctl --after-cursor='s=1;i=2'",                                            # quoted ;
    "sed -i 's/^rpcauth=.*/rpcauth=u:salt$hmac/' /x/bitcoin.conf",                    # quoted $
    "ss -Htlnp",
])
def test_simple_commands_go_to_sudo_as_they_are(cmd):
    assert is_simple(cmd)
    assert Commands(root=SUDO).as_root(cmd) == SUDO + cmd


@pytest.mark.parametrize("cmd", [
    "cat /a; rm /b",                    # a second command would run as the login
    "cat /a\nrm /b",
    "head -c 10 /x | sha256sum",
    "base64 -w0 < /etc/archipelago/catalog.json",    # the redirection is the shell's, not root's
    "ls /etc/tor/torrc.d/archy-*.conf",              # a glob the login could not expand
    "cat ~/.config/x",
    "echo $HOME",
    "FOO=1 env",
    "'rm' -f /x",
    "printf 'a b'",                                  # quoted blank: not split-safe, so the shell does it
    "",
])
def test_anything_else_goes_through_root_s_shell(cmd):
    assert not is_simple(cmd)
    assert Commands(root=SUDO).as_root(cmd) == f"sudo -n sh -c {shlex.quote(cmd)}"


def test_a_root_login_runs_every_command_as_it_is():
    for cmd in ("cat /a; rm /b", "systemctl restart x", "base64 -w0 < /etc/x"):
        assert ROOT.as_root(cmd) == cmd
