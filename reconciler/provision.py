#!/usr/bin/python3
"""Provision a node for the reference reconciler. Run as root ON the node (Debian trixie, python3.13,
standard library only); idempotent: a second run changes nothing and takes seconds.

  1. /etc/archipelago/reconciler.json defaults when absent; its "node" block (written by vm/golden
     from the platform profile) says whether the node is rootless (scope user)
  2. rootless only (provision_user.py): the user's linger, user manager grace, dirs, containers.conf,
     and the daemon's exact-argument sudo rules (priv.py)
  3. the stand-in image localhost/archy-standin:1, built without a registry from the node's own
     python3 + stdlib + the shared libraries they need (podman import of a generated rootfs tar),
     into the user's storage on a rootless node
  4. archipelago.service (reconciler/systemd/) into /etc/systemd/system (+ the User= drop-in)
  5. nginx: a TLS server on 443 (self-signed certificate) that includes the node's snippet dir
  6. tor: SocksPort 9050 + %include /etc/tor/torrc.d/*.conf; no self-restart (the reconciler supervises it)
  7. enable + start archipelago.service and wait for its /health

Every subprocess has a timeout; progress goes to stdout; any failure exits 1 with one clear line.
Usage: python3 provision.py [--rebuild-image]
"""
import hashlib
import importlib.util
import io
import json
import os
import py_compile
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

import provision_ports
import provision_user

HERE = Path(__file__).resolve().parent
IMAGE = "localhost/archy-standin:1"
HASH_LABEL = "io.archipelago.standin-hash"
IMAGE_RECIPE = 5            # bump when the rootfs layout below changes
SERVICE = "archipelago.service"
SERVICE_SRC = HERE / "systemd" / SERVICE
SETTINGS = Path("/etc/archipelago/reconciler.json")
CATALOG = Path("/etc/archipelago/catalog.json")
RESERVED_PORTS = Path("/etc/sysctl.d/60-archipelago-ports.conf")
TLS_DIR = Path("/etc/archipelago/tls")
NGINX_SITE = Path("/etc/nginx/conf.d/archipelago.conf")
NGINX_SNIPPETS = Path("/etc/nginx/archy.d")
TORRC = Path("/etc/tor/torrc")
TORRC_DIR = Path("/etc/tor/torrc.d")
TOR_UNIT = "tor@default.service"
TOR_DROPIN = Path(f"/etc/systemd/system/{TOR_UNIT}.d/archipelago.conf")
SMOKE = ("import standin.runtime, standin.bitcoind, standin.lnd, standin.electrumx, standin.webapp, standin.ui, "
         "standin.healthcheck, hashlib, hmac, fcntl, json, http.server, http.client, socket, ssl, ctypes; "
         # glibc dlopens libgcc_s when a thread exits (pthread_exit unwinds); without it a daemon thread
         # still running at interpreter shutdown aborts the process and the unit fails on every stop
         "ctypes.CDLL('libgcc_s.so.1'); print('ok')")
HEALTH_URL = "http://127.0.0.1:5678/health"
HEALTH_TIMEOUT = 300.0      # first tick under TCG on a loaded host can be slow
SYSTEMCTL_TIMEOUT = 300.0   # systemctl calls take tens of seconds under TCG when the host is busy

# stdlib parts a stand-in never imports: less to tar, import and hash (each MB costs seconds under TCG);
# the smoke test after the import proves every profile still imports
PRUNE = {"test", "tests", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "pydoc_data", "venv",
         "asyncio", "multiprocessing", "unittest", "xml", "xmlrpc", "_pyrepl", "sqlite3", "curses", "dbm",
         "tomllib", "wsgiref", "config-3.13-x86_64-linux-gnu"}
PRUNE_DYNLOAD = ("_test", "_codecs_", "_sqlite3", "_curses", "_dbm", "_gdbm", "_tkinter", "_ctypes_test", "xxlimited",
                 "_xxtestfuzz", "xxsubtype", "readline", "_multiprocessing", "_asyncio", "_interpreters", "_interp")
ROOT_ENTRY = """#!/bin/sh
exec /usr/bin/python3 -m standin "$@"
"""
HEALTHCHECK = """#!/usr/bin/python3 -S
import sys
sys.path.insert(0, "/opt/standin")
from standin.healthcheck import main
sys.exit(main())
"""
NGINX_CONF = """# written by archipelago provision.py: the dashboard's TLS server; apps add locations in archy.d
server {{
    listen 443 ssl default_server;
    server_name _;
    ssl_certificate {crt};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    location = / {{
        default_type text/html;
        add_header X-Frame-Options SAMEORIGIN always;
        return 200 '<!doctype html><title>Archipelago</title><h1>Archipelago</h1>\\n';
    }}
    include {snippets}/*.conf;
}}
"""
TORRC_MARK = "# archipelago (provision.py)"
TORRC_BLOCK = f"""
{TORRC_MARK}
SocksPort 9050
%include {TORRC_DIR}/*.conf
"""
TOR_DROPIN_TEXT = """# archipelago: the reconciler supervises tor (starts it when inactive); systemd must not
[Service]
Restart=no
"""

T0 = time.monotonic()
USER: provision_user.UserNode | None = None   # set from the settings' "node" block: a rootless node


def podman(*args: str) -> list[str]:
    """podman as the daemon will run it: the user's rootless podman on a user-scope node."""
    argv = ["podman", *args]
    return USER.as_user(argv) if USER else argv


class ProvisionError(Exception):
    pass


def progress(msg: str) -> None:
    print(f"provision [{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def run(cmd: list[str], timeout: float, input: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(cmd, input=input, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ProvisionError(f"`{' '.join(cmd[:4])}` timed out after {timeout:g}s") from None
    except FileNotFoundError:
        raise ProvisionError(f"`{cmd[0]}` not found (is its package installed?)") from None
    if check and proc.returncode != 0:
        last = (proc.stderr or proc.stdout).decode(errors="replace").strip().splitlines()
        raise ProvisionError(f"`{' '.join(cmd[:4])}` exited {proc.returncode}: {last[-1] if last else 'no output'}")
    return proc


def write_if_changed(path: Path, data: bytes, mode: int = 0o644) -> bool:
    """Atomic (temp + fsync + rename); False when the file already holds exactly this."""
    try:
        if path.read_bytes() == data and (path.stat().st_mode & 0o777) == mode:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return True


# ---------------------------------------------------------------- 1. image
def ldd_paths(binaries: list[str]) -> set[str]:
    """Absolute paths of the shared libraries (as linked, and their real files). One ldd for all:
    each ldd run costs seconds under TCG."""
    found: set[str] = set()
    out = run(["ldd", *binaries], timeout=300, check=False).stdout.decode()
    for line in out.splitlines():
        parts = line.split()
        path = parts[2] if "=>" in parts and len(parts) > 2 else parts[0] if parts else ""
        if path.startswith("/") and not path.endswith(":"):
            canonical = os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
            found.update({canonical, os.path.realpath(path)})
    return found


def dlopened_paths(libs: set[str]) -> set[str]:
    """Libraries glibc loads by name at run time, which ldd cannot see: libgcc_s.so.1 (thread exit and
    cancellation unwind through it), looked up next to the libc.so.6 the binaries link."""
    libc_dirs = {os.path.dirname(p) for p in libs if os.path.basename(p) == "libc.so.6"}
    found = {os.path.join(d, "libgcc_s.so.1") for d in libc_dirs if os.path.exists(os.path.join(d, "libgcc_s.so.1"))}
    if not found:
        raise ProvisionError(f"libgcc_s.so.1 not found next to libc.so.6 in {sorted(libc_dirs)} "
                             "(package libgcc-s1); stand-ins would abort whenever a thread exits")
    return found | {os.path.realpath(p) for p in found}


def stdlib_files() -> tuple[list[str], list[str]]:
    """(directories, files) of the running python's stdlib, minus PRUNE."""
    dirs, files = [], []
    for base in sorted({sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib")}):
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d not in PRUNE and d != "site-packages"
                                 and d != "dist-packages")
            dirs.append(dirpath)
            files.extend(os.path.join(dirpath, f) for f in sorted(filenames)
                         if not (os.path.basename(dirpath) == "lib-dynload" and f.startswith(PRUNE_DYNLOAD)))
    return dirs, files


def compile_stdlib_used(code: Path, out: Path) -> list[tuple[str, Path]]:
    """Byte-compile the stdlib modules the stand-in imports when the node has no .pyc for them:
    every container start would otherwise compile them again (seconds under TCG)."""
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); "
             "import standin.runtime, standin.bitcoind, standin.lnd, standin.electrumx, standin.webapp, "
             "standin.ui, standin.healthcheck; "
             "print('\\n'.join(sorted({m.__file__ for m in list(sys.modules.values()) if getattr(m, '__file__', None)})))")
    used = run([sys.executable, "-c", probe, str(code.parent)], timeout=120).stdout.decode().split()
    stdlib = sysconfig.get_path("stdlib") + "/"
    pycs = []
    for src in used:
        if not (src.startswith(stdlib) and src.endswith(".py")):
            continue
        target = importlib.util.cache_from_source(src)
        if os.path.exists(target):
            continue
        cfile = out / target.lstrip("/")
        cfile.parent.mkdir(parents=True, exist_ok=True)
        py_compile.compile(src, cfile=str(cfile), doraise=True)
        pycs.append((target.lstrip("/"), cfile))
    return pycs


def standin_sources() -> list[Path]:
    src = HERE / "standin"
    files = sorted(p for p in src.glob("*.py"))
    if not files:
        raise ProvisionError(f"{src}: no stand-in sources (is reconciler/standin copied next to provision.py?)")
    return files


def image_hash(python: str) -> str:
    h = hashlib.sha256(f"{IMAGE_RECIPE}|{sys.version}|{python}".encode())
    for path in standin_sources():
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def image_label() -> str | None:
    proc = run(podman("image", "inspect", IMAGE, "--format", "{{json .Labels}}"), timeout=60, check=False)
    if proc.returncode != 0:
        return None
    labels = json.loads(proc.stdout or b"null") or {}
    return labels.get(HASH_LABEL)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, int(time.time())
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str, mode: int = 0o755) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, mode, int(time.time())
    tar.addfile(info)


def _add_link(tar: tarfile.TarFile, name: str, target: str) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode, info.mtime = tarfile.SYMTYPE, target, 0o777, int(time.time())
    tar.addfile(info)


def build_rootfs(tar_path: Path, python: str, work: Path) -> int:
    """Write the image's rootfs tar; returns the number of host files in it."""
    dash = "/usr/bin/dash"
    # getent: the grid asks each container what host.archipelago resolves to (seed 004 FM4)
    getent = "/usr/bin/getent"
    dirs, files = stdlib_files()
    dynload = [f for f in files if f.endswith(".so")]
    libs = ldd_paths([python, dash, getent, *dynload])
    libs |= dlopened_paths(libs)
    host = set(files) | libs | {python, dash, getent, "/usr/bin/python3"}
    etc_python = Path(f"/etc/python{sys.version_info.major}.{sys.version_info.minor}")
    if etc_python.is_dir():                      # Debian's stdlib sitecustomize.py links here
        host.update(str(p) for p in etc_python.rglob("*") if p.is_file())
    # precompiled stand-in code (the image has no writable cache and TCG makes compiling slow)
    code = work / "standin"
    shutil.copytree(HERE / "standin", code, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for src in code.glob("*.py"):
        py_compile.compile(str(src), doraise=True)
    stdlib_pycs = compile_stdlib_used(code, work / "pyc")
    parents = set()
    for path in host | set(dirs):
        p = Path(path).parent
        while str(p) != "/":
            parents.add(str(p))
            p = p.parent
    with tarfile.open(tar_path, "w") as tar:
        for name, target in (("bin", "usr/bin"), ("lib", "usr/lib"), ("lib64", "usr/lib64")):
            _add_link(tar, name, target)
        for d in sorted(parents | set(dirs)):
            if d not in ("/bin", "/lib", "/lib64"):
                _add_dir(tar, d.lstrip("/"))
        for path in sorted(host):
            if os.path.lexists(path):
                tar.add(path, arcname=path.lstrip("/"), recursive=False)
        _add_link(tar, "usr/bin/sh", "dash")     # Quadlet's HealthCmd runs through /bin/sh
        for d, mode in (("tmp", 0o1777), ("var", 0o755), ("var/tmp", 0o1777), ("run", 0o755), ("data", 0o755),
                        ("config", 0o755), ("root", 0o700), ("opt", 0o755), ("opt/standin", 0o755),
                        ("usr/local", 0o755), ("usr/local/bin", 0o755)):
            _add_dir(tar, d, mode)
        tar.add(str(code), arcname="opt/standin/standin")
        for arcname, pyc in stdlib_pycs:
            tar.add(str(pyc), arcname=arcname)
        _add_bytes(tar, "usr/local/bin/standin", ROOT_ENTRY.encode(), 0o755)
        _add_bytes(tar, "usr/local/bin/healthcheck", HEALTHCHECK.encode(), 0o755)
        _add_bytes(tar, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644)
        _add_bytes(tar, "etc/group", b"root:x:0:\n", 0o644)
        _add_bytes(tar, "etc/nsswitch.conf", b"hosts: files dns\n", 0o644)
    return len(host)


def ensure_image(rebuild: bool) -> None:
    python = os.path.realpath(sys.executable)
    if not python.startswith("/usr/bin/python3"):
        raise ProvisionError(f"run provision.py with the node's /usr/bin/python3, not {sys.executable}")
    want = image_hash(python)
    if not rebuild and image_label() == want:
        progress(f"image {IMAGE} up to date ({want})")
        return
    old = run(podman("image", "inspect", IMAGE, "--format", "{{.Id}}"), timeout=60, check=False)
    # in /var/tmp, readable by the user who imports it on a rootless node
    with tempfile.TemporaryDirectory(prefix="archy-standin-", dir="/var/tmp") as tmp:
        os.chmod(tmp, 0o755)
        tar_path = Path(tmp) / "rootfs.tar"
        count = build_rootfs(tar_path, python, Path(tmp))
        os.chmod(tar_path, 0o644)
        progress(f"rootfs: {count} files from {python}, {tar_path.stat().st_size / 1e6:.1f} MB")
        changes = ['CMD ["/usr/local/bin/standin"]', "ENV PYTHONPATH=/opt/standin", "ENV PYTHONUNBUFFERED=1",
                   "ENV PYTHONDONTWRITEBYTECODE=1", "ENV PATH=/usr/local/bin:/usr/bin", "WORKDIR /",
                   "STOPSIGNAL SIGTERM", f"LABEL {HASH_LABEL}={want}"]
        cmd = podman("import")
        for change in changes:
            cmd += ["--change", change]
        run(cmd + ["--message", "archy stand-in (provision.py)", str(tar_path), IMAGE], timeout=600)
    if image_label() != want:
        raise ProvisionError(f"{IMAGE} was imported but does not carry {HASH_LABEL}={want}")
    smoke = run(podman("run", "--rm", "--network=none", "--pull=never", IMAGE, "/usr/bin/python3", "-c",
                       SMOKE), timeout=180, check=False)
    if smoke.returncode != 0 or b"ok" not in smoke.stdout:
        tail = (smoke.stderr or smoke.stdout).decode(errors="replace").strip().splitlines()
        raise ProvisionError(f"{IMAGE} smoke test failed: {tail[-1] if tail else smoke.returncode}")
    old_id = old.stdout.decode().strip() if old.returncode == 0 else ""
    if old_id:
        run(podman("rmi", old_id), timeout=120, check=False)   # in use by a container: kept
    progress(f"image {IMAGE} built ({want})")


# ---------------------------------------------------------------- 2, 3. daemon unit and settings
def install_service() -> bool:
    if not SERVICE_SRC.is_file():
        raise ProvisionError(f"{SERVICE_SRC} is missing: the reconciler's unit file must ship in reconciler/systemd/")
    changed = write_if_changed(Path("/etc/systemd/system") / SERVICE, SERVICE_SRC.read_bytes())
    progress(f"{SERVICE} {'installed' if changed else 'unchanged'}")
    return changed


def ensure_settings() -> dict:
    """The settings (vm/golden writes them with the profile's "node" block first); defaults when absent."""
    if SETTINGS.exists():
        try:
            data = json.loads(SETTINGS.read_text())
        except ValueError as exc:
            raise ProvisionError(f"{SETTINGS}: invalid JSON ({exc}); fix or delete it") from None
        progress(f"{SETTINGS} kept")
        return data
    data = {"tick_interval": 5, "variant": None}
    write_if_changed(SETTINGS, json.dumps(data, indent=2).encode() + b"\n")
    progress(f"{SETTINGS} written (defaults)")
    return data


def ensure_user(settings: dict) -> bool:
    """On a user-scope node: the user side (provision_user) and the daemon's sudo rules. Returns
    whether the daemon's unit changed."""
    global USER
    block = settings.get("node")
    try:
        USER = provision_user.user_node(block, "/var/lib/archipelago")
    except KeyError:
        raise ProvisionError(f"{SETTINGS}: node.user {block.get('user')!r} does not exist on this node") from None
    if USER is None:        # rootful: a golden seeded from a rootless one drops the User= drop-in
        return provision_user.remove_daemon_dropin(run, SYSTEMCTL_TIMEOUT)
    try:
        changed = provision_user.ensure_user_side(USER, run, write_if_changed, progress, SYSTEMCTL_TIMEOUT)
    except RuntimeError as exc:
        raise ProvisionError(str(exc)) from None
    import priv                                     # next to this file; stdlib only
    provision_user.install_sudoers(Path(priv.SUDOERS_FILE), priv.sudoers(USER.user), run)
    progress(f"{priv.SUDOERS_FILE}: the daemon's exact-argument sudo rules")
    return changed


# ---------------------------------------------------------------- 4. nginx
def ensure_certificate() -> tuple[Path, Path]:
    crt, key = TLS_DIR / "node.crt", TLS_DIR / "node.key"
    TLS_DIR.mkdir(parents=True, exist_ok=True)
    os.chmod(TLS_DIR, 0o700)
    if crt.exists() and key.exists() and run(["openssl", "x509", "-in", str(crt), "-noout", "-checkend", "86400"],
                                             timeout=30, check=False).returncode == 0:
        return crt, key
    with tempfile.TemporaryDirectory(dir=TLS_DIR) as tmp:
        tcrt, tkey = Path(tmp) / "c", Path(tmp) / "k"
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-days", "3650", "-subj", "/CN=archipelago.local",
             "-addext", "subjectAltName=DNS:archipelago.local,DNS:localhost,IP:127.0.0.1",
             "-keyout", str(tkey), "-out", str(tcrt)], timeout=60)
        os.chmod(tkey, 0o600)
        os.replace(tkey, key)
        os.replace(tcrt, crt)
    progress(f"self-signed certificate {crt}")
    return crt, key


def ensure_nginx(snippets: Path) -> None:
    crt, key = ensure_certificate()
    snippets.mkdir(parents=True, exist_ok=True)
    changed = write_if_changed(NGINX_SITE, NGINX_CONF.format(crt=crt, key=key, snippets=snippets).encode())
    run(["nginx", "-t", "-q"], timeout=30)
    enable("nginx.service")
    run(["systemctl", "reload-or-restart" if changed else "start", "nginx.service"], timeout=SYSTEMCTL_TIMEOUT)
    progress(f"nginx: TLS on 443 includes {snippets}/*.conf ({'updated' if changed else 'unchanged'})")


# ---------------------------------------------------------------- 5. tor
def ensure_tor() -> None:
    TORRC_DIR.mkdir(parents=True, exist_ok=True)
    text = TORRC.read_text() if TORRC.exists() else ""
    changed = False
    if TORRC_MARK not in text:
        changed = write_if_changed(TORRC, (text.rstrip("\n") + "\n" + TORRC_BLOCK).encode())
    changed |= write_if_changed(TOR_DROPIN, TOR_DROPIN_TEXT.encode())
    # with the service's defaults (User debian-tor), as its ExecStartPre checks: as plain root the
    # check refuses the apps' hidden-service dirs (owned by debian-tor) on a node with apps installed
    run(["tor", "--defaults-torrc", "/usr/share/tor/tor-service-defaults-torrc", "-f", str(TORRC),
         "--verify-config"], timeout=120)
    if changed:
        run(["systemctl", "daemon-reload"], timeout=SYSTEMCTL_TIMEOUT)
    enable("tor.service")
    run(["systemctl", "restart" if changed else "start", TOR_UNIT], timeout=SYSTEMCTL_TIMEOUT)
    wait_for(lambda: run(["systemctl", "is-active", "--quiet", TOR_UNIT], timeout=30, check=False).returncode == 0,
             60, f"{TOR_UNIT} active")
    progress(f"tor: SocksPort 9050, %include {TORRC_DIR}/*.conf, Restart=no ({'updated' if changed else 'unchanged'})")


def ensure_reserved_ports() -> None:
    try:
        catalog = json.loads(CATALOG.read_text())
    except (OSError, ValueError) as e:
        raise ProvisionError(f"{CATALOG}: {e}") from None
    text = provision_ports.reserved_ports_conf(catalog)
    changed = write_if_changed(RESERVED_PORTS, text.encode())
    run(["sysctl", "-q", "-p", str(RESERVED_PORTS)], timeout=60)
    progress(f"{RESERVED_PORTS}: the apps' ports reserved ({'updated' if changed else 'unchanged'})")


# ---------------------------------------------------------------- 6. the daemon
def enable(unit: str) -> None:
    """systemctl enable only when needed: for units with a SysV script it runs update-rc.d (slow under TCG)."""
    if run(["systemctl", "is-enabled", "--quiet", unit], timeout=60, check=False).returncode != 0:
        run(["systemctl", "enable", unit], timeout=SYSTEMCTL_TIMEOUT)


def wait_for(predicate, timeout: float, what: str, interval: float = 1.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise ProvisionError(f"timed out after {timeout:g}s waiting for {what}")


def reconciler_healthy() -> bool:
    try:
        with urllib.request.urlopen(HEALTH_URL, timeout=5) as resp:
            return resp.status == 200 and json.load(resp).get("ok") is True
    except (OSError, ValueError):
        return False


def start_daemon(changed: bool) -> None:
    run(["systemctl", "daemon-reload"], timeout=SYSTEMCTL_TIMEOUT)
    enable(SERVICE)
    run(["systemctl", "restart" if changed else "start", SERVICE], timeout=SYSTEMCTL_TIMEOUT)
    try:
        wait_for(reconciler_healthy, HEALTH_TIMEOUT, f"{HEALTH_URL} to answer ok")
    except ProvisionError:
        state = run(["systemctl", "is-active", SERVICE], timeout=30, check=False).stdout.decode().strip()
        raise ProvisionError(f"{SERVICE} is {state or 'unknown'} and {HEALTH_URL} never answered ok "
                             f"within {HEALTH_TIMEOUT:g}s (journalctl -u {SERVICE})") from None
    progress(f"{SERVICE} enabled, started, /health ok")


def preflight() -> None:
    if os.geteuid() != 0:
        raise ProvisionError("must run as root on the node")
    for tool in ("podman", "systemctl", "ldd", "openssl", "nginx", "tor"):
        if not shutil.which(tool):
            raise ProvisionError(f"`{tool}` not found on this node (missing package in the image recipe?)")
    if not SERVICE_SRC.is_file():
        raise ProvisionError(f"{SERVICE_SRC} is missing: the reconciler's unit file must ship in reconciler/systemd/")


def main(argv: list[str]) -> int:
    unknown = [a for a in argv if a != "--rebuild-image"]
    if unknown:
        print(f"provision: unknown argument {unknown[0]} (usage: provision.py [--rebuild-image])", file=sys.stderr)
        return 2
    try:
        preflight()
        settings = ensure_settings()
        service_changed = ensure_user(settings)
        ensure_image("--rebuild-image" in argv)
        service_changed |= install_service()
        ensure_nginx(Path((settings.get("node") or {}).get("nginx_dir", str(NGINX_SNIPPETS))))
        ensure_tor()
        ensure_reserved_ports()
        start_daemon(service_changed)
    except ProvisionError as exc:
        print(f"provision: FAILED: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("provision: interrupted", file=sys.stderr)
        return 130
    progress("done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
