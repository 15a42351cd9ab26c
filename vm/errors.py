"""Errors of the embedded VM: one line each, naming the fix where there is one."""
from node.api import NodeError, NodeUnreachable


class VMError(NodeError):
    """Anything the vm package reports cleanly (the CLI prints it without a traceback)."""


class PrerequisiteMissing(VMError):
    """A host tool, permission, disk space or port the VM needs is not available."""


class VMTimeout(VMError):
    """A bounded wait on the VM ran out."""


class GuestCrashed(VMError, NodeUnreachable):
    """The guest kernel died (serial log): broken infrastructure, not a verdict on the product."""
