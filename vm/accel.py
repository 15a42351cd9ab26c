"""Choose the QEMU accelerator: KVM only where it can really run a stock kernel, else TCG."""
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import VMError


@dataclass(frozen=True)
class Accel:
    name: str            # "kvm" | "tcg"
    args: tuple[str, ...]
    reason: str

    def describe(self) -> str:
        return f"accelerator: {self.name.upper()} ({self.reason})"


KVM = ("-accel", "kvm", "-cpu", "host")
TCG_THREADS = ("multi", "single")
TCG_THREAD_ENV = "ARCHY_VM_TCG"            # single|multi: the TCG threading (ci/stress_guest.py compares them)
# Single-threaded TCG: with thread=multi (QEMU 7.2) a vCPU can run a stale translation of kernel text
# that another vCPU live-patched (static keys: the int3 protocol of text_poke_bp), and the guest dies
# with "Oops: int3" at the second byte of a jump-label NOP (get_page_from_freelist, __alloc_pages).
# One thread runs the vCPUs in turn, so no stale block can run while a patch is in flight; the cost
# is guest parallelism (an install ~1.3x slower here). docs/performance.md has the measurements.
TCG_DEFAULT_THREAD = "single"


def tcg(thread: str = TCG_DEFAULT_THREAD) -> tuple[str, ...]:
    return ("-accel", f"tcg,thread={thread},tb-size=512", "-cpu", "max")


TCG = tcg()


def detect(kvm_dev: Path = Path("/dev/kvm"), sys_module: Path = Path("/sys/module"),
           override: str | None = None) -> Accel:
    """ARCHY_VM_ACCEL=kvm|tcg overrides; otherwise KVM when /dev/kvm is usable and not kvm_pvm."""
    override = override if override is not None else os.environ.get("ARCHY_VM_ACCEL", "")
    thread = os.environ.get(TCG_THREAD_ENV) or TCG_DEFAULT_THREAD
    if thread not in TCG_THREADS:
        raise VMError(f"{TCG_THREAD_ENV}={thread!r}: use one of {', '.join(TCG_THREADS)}")
    TCG = tcg(thread)
    if override == "tcg":
        return Accel("tcg", TCG, "forced by ARCHY_VM_ACCEL=tcg")
    if override == "kvm":
        return Accel("kvm", KVM, "forced by ARCHY_VM_ACCEL=kvm")
    if not os.access(kvm_dev, os.R_OK | os.W_OK):
        return Accel("tcg", TCG, f"{kvm_dev} missing or not accessible; software emulation, slow")
    if (sys_module / "kvm_pvm").exists():
        return Accel("tcg", TCG, "host KVM is kvm_pvm, which cannot run a stock kernel; software emulation, slow")
    return Accel("kvm", KVM, f"{kvm_dev} usable")
