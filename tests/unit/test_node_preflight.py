"""node.preflight.refusal: the one line a login gets when it cannot run what the harness needs."""
import pytest

from node.preflight import Answer, LoginRefused, check, refusal, root_refusal

LOGIN = "archipelago@lab"
OK = Answer(0)


def test_a_login_that_can_do_everything_is_not_refused():
    assert refusal(LOGIN, "archipelago", "sudo -n ", OK) is None
    assert refusal(LOGIN, "archipelago", "sudo -n ", OK, Answer(0, "running\n"), Answer(0, "yes\n")) is None
    # a degraded manager (some other user unit failed) is still a manager: exit 1, but it answers
    assert refusal(LOGIN, "archipelago", "sudo -n ", OK, Answer(1, "degraded\n"), Answer(0, "yes\n")) is None
    assert refusal(LOGIN, "root", "") is None


def test_sudo_asking_for_a_password():
    line = refusal(LOGIN, "archipelago", "sudo -n ", Answer(1, "", "sudo: a password is required\n"))
    assert line == ("archipelago@lab: sudo -n true failed (a password is required): give the login "
                    "passwordless sudo for the commands in docs/real-node.md#sudo, or log in as root")


def test_sudo_missing_or_forbidden():
    missing = refusal(LOGIN, "archipelago", "sudo -n ", Answer(127, "", "sh: 1: sudo: not found\n"))
    assert "(sudo is not installed): install sudo and give the login passwordless sudo" in missing
    denied = refusal(LOGIN, "archipelago", "sudo -n ",
                     Answer(1, "", "Sorry, user archipelago may not run sudo on lab.\n"))
    assert "(the login may not run it)" in denied
    odd = refusal(LOGIN, "archipelago", "sudo -n ", Answer(1, "", "sudo: something else\nsudo: last words\n"))
    assert "(sudo: last words)" in odd


def test_no_user_manager_names_lingering_as_the_fix():
    line = refusal(LOGIN, "archipelago", "sudo -n ", OK,
                   Answer(1, "offline\n", "Failed to connect to bus: No medium found\n"), Answer(0, "no\n"))
    assert line == ("archipelago@lab: the apps are user units of archipelago but its user manager is not "
                    "reachable (systemctl --user: Failed to connect to bus: No medium found): run "
                    "`loginctl enable-linger archipelago` as root on the node (it starts the manager and "
                    "keeps it after logout)")


def test_a_manager_without_lingering_is_refused_too():
    line = refusal(LOGIN, "archipelago", "sudo -n ", OK, Answer(0, "running\n"), Answer(0, "no\n"))
    assert line == ("archipelago@lab: archipelago's user units stop when its last session ends (Linger=no): "
                    "run `loginctl enable-linger archipelago` as root on the node")
    no_logind = refusal(LOGIN, "archipelago", "sudo -n ", OK, Answer(0, "running\n"),
                        Answer(1, "", "Failed to connect to bus: Host is down\n"))
    assert "(Linger=Failed to connect to bus: Host is down)" in no_logind


def test_every_refusal_is_one_line():
    for line in (refusal(LOGIN, "a", "sudo -n ", Answer(1, "", "x\ny\n")),
                 refusal(LOGIN, "a", "", None, Answer(1, "", "p\nq\n"), None)):
        assert line and "\n" not in line


def test_a_root_login_on_user_units_is_refused_without_asking():
    """Root's `systemctl --user` and podman are root's own units and rootful podman."""
    line = root_refusal("root@lab", "root", user_scope=True)
    assert line.startswith("root@lab: the apps are user units of the profile's login, but root's ")
    assert "log in as the apps' user with sudo -n" in line and "\n" not in line
    assert root_refusal("root@lab", "root", user_scope=False) is None
    assert root_refusal(LOGIN, "archipelago", user_scope=True) is None


class _Node:
    name, hostname = "lab", "lab"

    def __init__(self, user, cmd):
        self.user, self.cmd, self.ran = user, cmd, []

    def run(self, cmd, timeout=60, input=None):
        self.ran.append(cmd)
        raise AssertionError(f"asked the node: {cmd}")


def test_check_refuses_a_root_login_on_a_user_scope_profile_before_any_command():
    from node import platform
    n = _Node("root", platform.load("reference").commands("root"))
    with pytest.raises(LoginRefused, match="^root@lab: the apps are user units"):
        check(n)
    assert n.ran == []
    check(_Node("root", platform.load("reference-rootful").commands("root")))     # nothing asked
