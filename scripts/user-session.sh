#!/usr/bin/env bash
# As root: run a command as USER inside the cgroups delegated to that user, the way a login session
# would start it.
#  - cgroup v2: the scope prepare-host.sh made below user@UID.service (systemd delegates that subtree to
#    every logged-in user), so `roost pause` has a cgroup to freeze and v2 limit controllers, where the
#    host has them on v2, can be used.
#  - cgroup v1 (hybrid hosts keep memory, pids, cpu, cpuset and blkio there): a cgroup owned by the user
#    in each of those hierarchies, as an administrator delegates them (`cgcreate -a USER -t USER`, or
#    pam_cgroup at login), so resource limits are enforced. It is made below the caller's own cgroup, so
#    whatever accounts for the caller still accounts for the user's processes.
# Without those cgroups the command runs where it is.
# usage: user-session.sh USER command [args...]
set -euo pipefail
user=$1; shift
uid=$(id -u "$user")
for unified in /sys/fs/cgroup/unified /sys/fs/cgroup; do
  scope="$unified/user.slice/user-$uid.slice/user@$uid.service/session.scope"
  if [ -w "$scope/cgroup.procs" ]; then echo $$ > "$scope/cgroup.procs"; break; fi
done
for controller in memory pids cpu cpuset blkio; do
  hierarchy=$(awk -v c="$controller" '$3 == "cgroup" { n = split($4, o, ","); for (i = 1; i <= n; i++) if (o[i] == c) { print $2; exit } }' /proc/self/mounts)
  [ -n "$hierarchy" ] || continue
  own=$(awk -F: -v c="$controller" '{ n = split($2, o, ","); for (i = 1; i <= n; i++) if (o[i] == c) { print $3; exit } }' /proc/$$/cgroup)
  dir="$hierarchy${own%/}/user-$uid"
  case "$own" in */user-"$uid") dir="$hierarchy$own" ;; esac  # already in the user's cgroup
  mkdir -p "$dir" 2>/dev/null || continue
  if [ "$controller" = cpuset ]; then
    cat "$(dirname "$dir")/cpuset.cpus" > "$dir/cpuset.cpus" 2>/dev/null || true
    cat "$(dirname "$dir")/cpuset.mems" > "$dir/cpuset.mems" 2>/dev/null || true
  fi
  chown -R "$user:" "$dir" 2>/dev/null || true
  echo $$ > "$dir/cgroup.procs" 2>/dev/null || true
done
exec runuser -u "$user" -- "$@"
