"""Runs ON the node (python3, standard library only): one soak sample in one SSH round trip.

Invoked as `python3 - ARGS_JSON` with this file on stdin. Prints one JSON object:
units (systemctl show), ps (podman ps -a), stats (podman stats), disk, goss outputs, journal
entries since the cursor that may be errors (the controller applies harness.journal's rules),
and how long each probe took. Every command has a timeout; a failing probe is reported, not fatal.
"""
import json
import os
import re
import shlex
import subprocess
import sys
import time

UNIT_PROPS = "Id,ActiveState,SubState,NRestarts,InvocationID,MemoryCurrent,CPUUsageNSec,MainPID"
MAYBE_ERROR = re.compile(r"(?i)error|fatal|panic|traceback|segfault|exception|core dumped|"
                         r"Failed with result|code=killed|code=dumped")
JOURNAL_FIELDS = ("MESSAGE", "PRIORITY", "_SYSTEMD_UNIT", "UNIT", "SYSLOG_IDENTIFIER", "CONTAINER_NAME",
                  "COREDUMP_UNIT", "__REALTIME_TIMESTAMP", "_SYSTEMD_USER_UNIT", "USER_UNIT")


def run(cmd, timeout):
    t = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr, time.monotonic() - t
    except subprocess.TimeoutExpired:
        return 124, "", f"timed out after {timeout}s: {' '.join(cmd[:3])}", time.monotonic() - t
    except OSError as e:
        return 127, "", str(e), time.monotonic() - t


def tool(args, name, argv):
    """argv of a platform tool: as it is on a root login; else through the login's prefix for it
    (node.commands: `systemctl --user`, `sudo -n journalctl`, ...; goss as root)."""
    cmd = args.get("cmd")
    if not cmd:
        return [name, *argv]
    prefix = cmd.get(name) or cmd.get("root", "") + name
    return ["sh", "-c", f"{prefix} {shlex.join(argv)}"]


def main():
    args = json.loads(sys.argv[1])
    out = {"errors": [], "latency": {}, "t_node": time.time()}

    rc, so, se, dt = run(tool(args, "systemctl", ["show", "-p", UNIT_PROPS, *args["units"]]), 30)
    out["latency"]["systemctl"] = dt
    out["units"] = so if rc == 0 else ""
    if rc:
        out["errors"].append(f"systemctl show: rc {rc}: {se.strip()[:200]}")

    rc, so, se, dt = run(tool(args, "podman", ["ps", "-a", "--format", "json"]), 60)
    out["latency"]["podman ps"] = dt
    try:
        out["ps"] = json.loads(so or "[]") if rc == 0 else []
    except ValueError:
        out["ps"] = []
        rc = -1
    if rc:
        out["errors"].append(f"podman ps: rc {rc}: {se.strip()[:200]}")

    rc, so, se, dt = run(tool(args, "podman", ["stats", "--no-stream", "--no-reset", "--format", "json"]), 60)
    out["latency"]["podman stats"] = dt
    try:
        out["stats"] = json.loads(so or "[]") if rc == 0 else []
    except ValueError:
        out["stats"] = []
    if rc and "no containers" not in se.lower():
        out["errors"].append(f"podman stats: rc {rc}: {se.strip()[:200]}")

    out["disk"] = {}
    for m in args["mounts"]:
        try:
            st = os.statvfs(m)
            out["disk"][m] = {"size": st.f_blocks * st.f_frsize,
                              "used": (st.f_blocks - st.f_bfree) * st.f_frsize}
        except OSError:
            pass

    out["goss"] = {}
    # one app at a time: three side by side starved nginx on a 2-vCPU TCG guest (10 s HTTP
    # timeouts in the soak's last sample), so the soak failed on load it made itself
    for app, g in args["goss"].items():
        rc, so, se, dt = run(tool(args, args["goss_bin"], ["--vars", g["vars"], "-g", g["file"], "validate",
                                                           "-f", "json", "--no-color"]), args["goss_timeout"])
        out["goss"][app] = {"rc": rc, "stdout": so[-200000:], "stderr": se[-500:], "duration": dt}
        out["latency"]["goss:" + app] = dt

    cmd = ["-o", "json", "--no-pager", "-n", "20000"]
    cmd += ["--after-cursor", args["cursor"]] if args.get("cursor") else ["--since", "-10s"]
    rc, so, se, dt = run(tool(args, "journalctl", cmd), 60)
    out["latency"]["journal"] = dt
    entries, cursor = [], args.get("cursor")
    for line in so.splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        cursor = e.get("__CURSOR", cursor)
        msg = e.get("MESSAGE")
        text = msg if isinstance(msg, str) else ""
        if int(e.get("PRIORITY") or 6) <= 3 or MAYBE_ERROR.search(text) or \
                e.get("SYSLOG_IDENTIFIER") == "systemd-coredump":
            entries.append({k: e.get(k) for k in JOURNAL_FIELDS if k in e})
    if rc:
        out["errors"].append(f"journalctl: rc {rc}: {se.strip()[:200]}")
    out["journal"] = {"entries": entries[-500:], "dropped": max(0, len(entries) - 500), "cursor": cursor}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
