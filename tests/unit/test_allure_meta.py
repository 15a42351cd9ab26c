"""harness/allure_meta.py: Allure's categories tell the product from the infrastructure, and the
environment file is well-formed properties."""
import json
import re

from harness import allure_meta


def _category(status: str, message: str) -> str:
    """The first category Allure would file a result under (it takes them in order)."""
    for c in allure_meta.CATEGORIES:
        if status in c["matchedStatuses"] and re.fullmatch(c.get("messageRegex", "(?s).*"), message):
            return c["name"]
    return ""


def test_a_failed_check_is_a_product_failure_and_a_crash_is_infrastructure():
    assert _category("failed", "AssertionError: lnd not healthy after reboot").startswith("Product failures")
    assert _category("broken", "GuestCrashed: the guest kernel crashed: Oops: int3").startswith("Broken infra")
    assert _category("failed", "retry: guest kernel crashed again:\nKernel panic").startswith("Broken infra")
    assert _category("broken", "NodeError: ssh: connection refused").startswith("Harness or node errors")
    assert _category("skipped", "no power_cut capability").startswith("Not run here")


def test_the_environment_names_commit_versions_and_nodes(tmp_path):
    text = allure_meta.environment("1f1c651", [{"name": "vm0", "kind": "vm", "platform": "reference",
                                                "login": "archipelago"}], {"pytest": "9.2.0"})
    rows = dict(line.split(" = ", 1) for line in text.splitlines())
    assert rows["commit"] == "1f1c651" and rows["pytest"] == "9.2.0" and "python" in rows
    assert rows["node.vm0"] == "vm, platform reference, login archipelago"
    allure_meta.write(tmp_path / "allure", text)
    assert json.loads((tmp_path / "allure" / "categories.json").read_text()) == allure_meta.CATEGORIES
    assert (tmp_path / "allure" / "environment.properties").read_text() == text
