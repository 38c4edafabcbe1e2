#!/usr/bin/env bash
# As root: make this machine look like a normal distro host for a rootless engine.
# usage: prepare-host.sh [--test] [TEST_USER] [OTHER_USER]
#   --test also installs what only the test suite needs (podman and skopeo for the interoperability tests,
#   buildah for the build comparison test and benchmark, docker-registry, htpasswd and openssl for the
#   registry tests (apache2-utils's ab also for the network benchmark), tmux for the dashboard test, python3 for
#   the monitor's protocol tests, iperf3 for the network benchmark, git for the ADD-of-a-repository test).
set -euo pipefail
with_tests=0
[ "${1:-}" = --test ] && { with_tests=1; shift; }
test_user=${1:-}
other_user=${2:-}
packages=(crun runc uidmap busybox-static passt slirp4netns nftables fuse-overlayfs catatonit util-linux attr gcc make libc6-dev procps isal zstd xz-utils bzip2)
[ "$with_tests" = 1 ] && packages+=(python3 bsdutils podman skopeo buildah docker-registry apache2-utils openssl tmux iperf3 git)
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Distributions ship these 0666; some VMs have them 0600, which leaves fuse-overlayfs and pasta unusable.
for dev in /dev/fuse /dev/net/tun; do [ -e "$dev" ] && chmod 0666 "$dev"; done
next_range() {  # the first 65536 ids after every range already handed out
  awk -F: 'BEGIN { m = 100000 } { e = $2 + $3; if (e > m) m = e } END { print m "-" m + 65535 }' "$1"
}
# Hybrid cgroups with hugetlb only on the v2 hierarchy make crun 1.8 refuse to run; distributions that
# boot hybrid mount every v1 controller, hugetlb included.
if grep -q ' /sys/fs/cgroup/unified cgroup2 ' /proc/self/mounts && ! grep -q ' /sys/fs/cgroup/hugetlb ' /proc/self/mounts \
   && grep -qw hugetlb /proc/cgroups; then
  mkdir -p /sys/fs/cgroup/hugetlb && mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb 2>/dev/null || true
fi
add_user() {
  local user=$1
  id "$user" >/dev/null 2>&1 || useradd -m -s /bin/bash "$user"
  # useradd gives new users subordinate ranges on Debian; make sure anyway.
  grep -q "^$user:" /etc/subuid || usermod --add-subuids "$(next_range /etc/subuid)" "$user"
  grep -q "^$user:" /etc/subgid || usermod --add-subgids "$(next_range /etc/subgid)" "$user"
}
# systemd delegates a cgroup v2 subtree to every logged-in user (user@UID.service, Delegate=yes; in the
# unified hierarchy also on hybrid hosts), and the user's programs run in a scope below it. Without
# systemd here, make the same: the scope is where user-session.sh starts the user's commands.
delegate_cgroup() {
  local user=$1 uid unified scope
  uid=$(id -u "$user")
  unified=$(awk '$3 == "cgroup2" && ($2 == "/sys/fs/cgroup" || $2 == "/sys/fs/cgroup/unified") { print $2; exit }' /proc/self/mounts)
  [ -n "$unified" ] || return 0
  scope="$unified/user.slice/user-$uid.slice/user@$uid.service/session.scope"
  mkdir -p "$scope" 2>/dev/null || return 0
  for dir in "$(dirname "$scope")" "$scope"; do
    chown "$user:" "$dir" "$dir/cgroup.procs" "$dir/cgroup.threads" "$dir/cgroup.subtree_control" 2>/dev/null || true
  done
}
[ -n "$test_user" ] && add_user "$test_user" && delegate_cgroup "$test_user"
[ -n "$other_user" ] && { id "$other_user" >/dev/null 2>&1 || useradd -m -s /bin/bash "$other_user"; }
exit 0
