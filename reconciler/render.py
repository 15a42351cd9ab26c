"""Pure renderers: Quadlet units, derived app configs, nginx and tor snippets.

Same inputs, same bytes: the tick compares these against the files on disk byte for byte.
"""
from __future__ import annotations

import hashlib
import hmac
import json

from .backoff import START_LIMIT_BURST
from .model import AppSpec, BitcoinRpcSecret
from .scope import SYSTEM, Node

HEADER = "# Managed by archipelago (reference reconciler): rewritten on drift, do not edit.\n"
HEALTHCHECK = "/usr/local/bin/healthcheck"
STANDIN = "/usr/local/bin/standin"
APPS_SLICE = "archipelago-apps.slice"
NETWORK = SYSTEM.network    # without a node block; the block names its own (scope.Node)
# The app network has its own /24 and no DNS: aardvark-dns runs in a transient scope that
# systemd stops early at shutdown, and every container stopped after it then failed its
# cleanup ("aardvark-dns failed to start ... transaction is destructive"). Containers get a
# fixed address each and reach the others by name through /etc/hosts (AddHost) instead.
SUBNET = "10.89.7"
GATEWAY = SYSTEM.gateway
# Seed 004 FM4 (v1.7.42): `host.containers.internal` resolved to the LAN gateway on bridge networks,
# so every unit maps this name to the node as its containers see it: the app network's gateway,
# which the reference defines itself (network_unit), so it comes from the same node block.
HOST_ALIAS = "host.archipelago"


def addresses(container_names, node: Node = SYSTEM) -> dict[str, str]:
    """container -> fixed address, in catalog order (.10 upwards)."""
    names = list(container_names)
    if len(names) > node.max_containers:
        raise ValueError(f"more than {node.max_containers} containers do not fit the {node.network} network "
                         f"{node.subnet}")
    return {name: node.address(i) for i, name in enumerate(names)}


def rpcauth(user: str, salt: str, password: str) -> str:
    """Bitcoin Core share/rpcauth: HMAC-SHA256 keyed with the salt's hex *string*."""
    digest = hmac.new(salt.encode(), password.encode(), hashlib.sha256).hexdigest()
    return f"rpcauth={user}:{salt}${digest}"


def quadlet_container(spec: AppSpec, *, enabled: bool, stop_timeout: int, data_dir: str | None,
                      config_dir: str | None, hosts: dict[str, str] | None = None, host_alias: bool = True,
                      restart: str = "on-failure", node: Node = SYSTEM, boot_after: tuple[str, ...] = ()) -> str:
    """node: a user-scope unit has no network-online.target (the user manager has none) and is
    wanted by default.target; the network and the host alias's gateway are the node's.
    boot_after: the app units this one starts after when they start together (boot.after)."""
    hosts = hosts or {}
    ports = ",".join(f"{p.name}={p.port}" for p in spec.ports)
    # In the user manager, the user's D-Bus must outlive the apps: at shutdown podman's cleanup
    # restarts the rootless netns (its scope is stopped at once) and moves it to user.slice over
    # that bus; without this order every reboot logged "failed to move the rootless netns pasta
    # process to the systemd user.slice" from each app. Ordering only: no Wants=.
    online = (["After=dbus.socket dbus.service"] if node.user_scope
              else ["Wants=network-online.target", "After=network-online.target"])
    lines = [
        HEADER.rstrip("\n"),
        "[Unit]",
        f"Description=Archipelago app {spec.id} ({spec.title})",
        *online,
        *([f"After={' '.join(boot_after)}"] if boot_after else []),
        # systemd's own retries (Restart=) end after 5 starts in 10 min and the unit fails: only
        # then does the reconciler's backoff pace the loop. The window must outlast 5 failing
        # starts: one takes ~25 s under TCG, so at 120 s the limit never hit and systemd restarted
        # a crash-looping app every ~30 s for ever (docs/architecture.md). The reconciler resets the
        # count before every start it issues, so only the automatic restarts add up.
        "StartLimitIntervalSec=600",
        f"StartLimitBurst={START_LIMIT_BURST}",
        "",
        "[Container]",
        f"ContainerName={spec.container}",
        f"Image={spec.image}",
        "Pull=never",
        f"Label=io.archipelago.app={spec.id}",
        f"Network={node.network}.network",
        *([f"IP={hosts[spec.container]}"] if spec.container in hosts else []),
        *(f"AddHost={name}:{ip}" for name, ip in hosts.items() if name != spec.container),
        *([f"AddHost={HOST_ALIAS}:{node.gateway}"] if host_alias else []),
        *(f"PublishPort={p.port}:{p.port}" for p in spec.ports),
        *([f"Volume={data_dir}:/data"] if data_dir else []),
        *([f"Volume={config_dir}:/config:ro"] if config_dir else []),
        f"Environment=STANDIN_PROFILE={spec.profile} STANDIN_APP={spec.id} STANDIN_PORTS={ports}",
        f"Exec={STANDIN} {spec.profile}",
        f"HealthCmd={HEALTHCHECK}",
        # Each probe is a `podman healthcheck run` plus an exec in the container: about 4 s of CPU
        # under TCG, so with the full line (9 containers) 30 s probes took most of the VM and startup
        # probes timed out (docs/performance.md). A hung app is still killed within 3 minutes;
        # generous timeouts: under load a slow probe must not get a healthy app killed.
        "HealthInterval=60s",
        "HealthTimeout=60s",
        "HealthRetries=3",
        f"HealthStartupCmd={HEALTHCHECK}",
        "HealthStartupInterval=5s",
        "HealthStartupSuccess=1",
        "HealthOnFailure=kill",
        "Notify=healthy",
        "RunInit=yes",
        # every capability dropped, the catalog's added back (seed 003: electrumx needs DAC_OVERRIDE)
        "DropCapability=all",
        *(f"AddCapability={c}" for c in spec.caps),
        f"StopTimeout={stop_timeout}",
        # podman 5.4 (Debian trixie) has no Quadlet Memory= key (5.5 added it): the flag itself
        *([f"PodmanArgs=--memory={spec.memory}"] if spec.memory else []),
        "",
        "[Service]",
        f"Slice={APPS_SLICE}",
        # systemd brings a crashed app back (kill -9, HealthOnFailure=kill), as podman's unless-stopped
        # does on the seeds' node; a clean stop behind the reconciler's back (`podman stop`, exit 0)
        # stays down until the tick starts the desired-running app again, as the seeds' backend does
        # for the stop unless-stopped ignores (003). Restart=always would undo that stop within 5 s
        # and the reconciler's repair would never be exercised.
        f"Restart={restart}",
        "RestartSec=5",
        # Notify=healthy: the first probe can be slow on a loaded node
        "TimeoutStartSec=900",
        f"TimeoutStopSec={stop_timeout + 30}",
        "",
    ]
    if enabled:  # user-stopped apps get no WantedBy, so they stay stopped across reboots
        lines += ["[Install]", f"WantedBy={'default.target' if node.user_scope else 'multi-user.target'}", ""]
    return "\n".join(lines)


def network_unit(node: Node = SYSTEM) -> str:
    return HEADER + (f"[Network]\nNetworkName={node.network}\nDriver=bridge\nSubnet={node.subnet}\n"
                     f"Gateway={node.gateway}\nDisableDNS=true\n")


def bitcoin_conf(spec: AppSpec, rpc: BitcoinRpcSecret) -> str:
    return HEADER + "\n".join([
        "server=1",
        "txindex=0",
        rpcauth(rpc.user, rpc.salt, rpc.password),
        f"rpcport={spec.port('rpc') or 8332}",
        "rpcbind=0.0.0.0",
        "rpcallowip=0.0.0.0/0",
        f"port={spec.port('p2p') or 8333}",
        f"zmqpubrawblock=tcp://0.0.0.0:{spec.port('zmqblock') or 28332}",
        f"zmqpubrawtx=tcp://0.0.0.0:{spec.port('zmqtx') or 28333}",
    ]) + "\n"


def lnd_conf(bitcoin: AppSpec, rpc: BitcoinRpcSecret) -> str:
    host = bitcoin.container
    return HEADER + "\n".join([
        "[Application Options]",
        "restlisten=0.0.0.0:8080",
        "rpclisten=0.0.0.0:10009",
        "listen=0.0.0.0:9735",
        "",
        "[Bitcoin]",
        "bitcoin.mainnet=true",
        "bitcoin.node=bitcoind",
        "",
        "[Bitcoind]",
        f"bitcoind.rpchost={host}:{bitcoin.port('rpc') or 8332}",
        f"bitcoind.rpcuser={rpc.user}",
        f"bitcoind.rpcpass={rpc.password}",
        f"bitcoind.zmqpubrawblock=tcp://{host}:{bitcoin.port('zmqblock') or 28332}",
        f"bitcoind.zmqpubrawtx=tcp://{host}:{bitcoin.port('zmqtx') or 28333}",
    ]) + "\n"


def electrumx_env(bitcoin: AppSpec, rpc: BitcoinRpcSecret) -> str:
    url = f"http://{rpc.user}:{rpc.password}@{bitcoin.container}:{bitcoin.port('rpc') or 8332}/"
    return HEADER + f"DAEMON_URL={url}\nCOIN=Bitcoin\n"


def integrations_json(links: dict) -> str:
    return json.dumps(links, indent=1, sort_keys=True) + "\n"


def bitcoin_link(bitcoin: AppSpec, rpc: BitcoinRpcSecret) -> dict:
    port = bitcoin.port("rpc") or 8332
    return {"host": bitcoin.container, "port": port, "url": f"http://{bitcoin.container}:{port}/",
            "user": rpc.user, "password": rpc.password}


def lnd_link(lnd: AppSpec, macaroon: str) -> dict:
    port = lnd.port("rest") or 8080
    return {"host": lnd.container, "port": port, "url": f"http://{lnd.container}:{port}/", "macaroon": macaroon}


def electrum_link(electrum: AppSpec) -> dict:
    return {"host": electrum.container, "port": electrum.port("tcp") or 50001}


def nginx_snippet(app_id: str, route: str, ui_port: int, frame_ancestors: str, x_frame_options: str) -> str:
    # the upstream's own frame headers are replaced so the dashboard (same origin) may frame the page
    return HEADER + "\n".join([
        f"location {route} {{",
        f"    proxy_pass http://127.0.0.1:{ui_port}/;",
        "    proxy_http_version 1.1;",
        "    proxy_set_header Host $host;",
        "    proxy_set_header X-Forwarded-Proto $scheme;",
        f"    proxy_set_header X-Forwarded-Prefix {route};",
        "    proxy_hide_header X-Frame-Options;",
        "    proxy_hide_header Content-Security-Policy;",
        f"    add_header Content-Security-Policy \"frame-ancestors {frame_ancestors}\" always;",
        f"    add_header X-Frame-Options {x_frame_options} always;",
        "}",
    ]) + "\n"


def torrc(hs_dir: str, onion_port: int, target_port: int) -> str:
    return HEADER + f"HiddenServiceDir {hs_dir}/\nHiddenServicePort {onion_port} 127.0.0.1:{target_port}\n"


def podman_run_argv(spec: AppSpec, *, data_dir: str | None, config_dir: str | None, stop_timeout: int,
                    detach: bool, hosts: dict[str, str] | None = None, node: Node = SYSTEM) -> list[str]:
    """`podman run` for the broken variants that create containers imperatively (no Quadlet unit)."""
    hosts = hosts or {}
    ports = ",".join(f"{p.name}={p.port}" for p in spec.ports)
    argv = ["podman", "run", "--replace", "--name", spec.container, "--label", f"io.archipelago.app={spec.id}",
            "--network", node.network, "--pull", "never", "--init", "--stop-timeout", str(stop_timeout),
            "--health-cmd", HEALTHCHECK, "--health-interval", "30s", "--health-startup-cmd", HEALTHCHECK,
            "--health-startup-interval", "2s",
            "-e", f"STANDIN_PROFILE={spec.profile}", "-e", f"STANDIN_APP={spec.id}", "-e", f"STANDIN_PORTS={ports}"]
    if spec.container in hosts:
        argv += ["--ip", hosts[spec.container]]
    for name, ip in hosts.items():
        if name != spec.container:
            argv += ["--add-host", f"{name}:{ip}"]
    argv += ["--add-host", f"{HOST_ALIAS}:{node.gateway}"] + (["--memory", spec.memory] if spec.memory else [])
    argv += ["--cap-drop", "all"] + [a for c in spec.caps for a in ("--cap-add", c)]
    for p in spec.ports:
        argv += ["-p", f"{p.port}:{p.port}"]
    if data_dir:
        argv += ["-v", f"{data_dir}:/data"]
    if config_dir:
        argv += ["-v", f"{config_dir}:/config:ro"]
    # detached: conmon is a child of the daemon; attached (fm3): the container shares the daemon's cgroup
    argv += ["-d"] if detach else ["--rm", "--cgroups=disabled"]
    return argv + [spec.image, STANDIN, spec.profile]
