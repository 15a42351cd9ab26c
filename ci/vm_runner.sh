#!/usr/bin/env bash
# ci/vm_runner.sh TARGET: run one make target (beta-matrix | soak | chaos | test | prove) on a CI
# runner. Says which accelerator the VMs will get, reaps VMs a killed earlier job left behind,
# bounds the whole run (ARCHY_CI_TIMEOUT, default 170m; SIGINT first so pytest cleans up and VMs
# are torn down), and reaps again on the way out. NODE/APPS/EVENTS/SOAK (CHAOS, REFERENCE, ...) pass through to make.
set -uo pipefail
cd "$(dirname "$0")/.."

target=${1:-}
case "$target" in
  beta-matrix|soak|chaos|test|prove) ;;
  *) echo "vm_runner: usage: ci/vm_runner.sh beta-matrix|soak|chaos|test|prove (got '${target}')" >&2; exit 2 ;;
esac
limit=${ARCHY_CI_TIMEOUT:-170m}

for tool in make timeout; do
  command -v "$tool" >/dev/null || { echo "vm_runner: '$tool' not found: apt-get install $tool" >&2; exit 2; }
done
if [ -z "${NODE:-}" ]; then
  if [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ]; then
    echo "vm_runner: /dev/kvm usable: the embedded VM runs with KVM"
  else
    echo "vm_runner: no usable KVM: the embedded VM runs under TCG (slow; expect several times longer)"
  fi
fi

reap() { [ -x .venv/bin/python ] && timeout 120 .venv/bin/python -m vm reap || true; }
trap reap EXIT

make setup || exit $?
reap
echo "vm_runner: make $target (limit $limit)"
timeout --signal=INT --kill-after=180 "$limit" make "$target"
rc=$?
[ "$rc" -eq 124 ] && echo "vm_runner: make $target ran out of time ($limit)" >&2
exit "$rc"
