"""A local probe/action module for the trap experiments: no node, just values, errors and sleeps."""
import time

from chaoslib.exceptions import InterruptExecution


def value(v=True):
    return v


def boom(message="injection failed"):
    raise RuntimeError(message)


def interrupt(message="injection failed"):
    raise InterruptExecution(message)


def sleep(seconds=2.0):
    time.sleep(seconds)
    return seconds


def echo_secret(secrets=None):
    return "used a secret"


_broken = False


def break_it():
    global _broken
    _broken = True
    return "broken"


def healthy():
    return not _broken
