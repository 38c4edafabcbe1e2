#!/usr/bin/env bash
# As root: run a command as USER inside the cgroup that prepare-host.sh delegated to that user, the way a
# systemd login session would start it (so `roost pause` has a cgroup to freeze). Without that cgroup the
# command runs where it is.
# usage: user-session.sh USER command [args...]
set -euo pipefail
user=$1; shift
uid=$(id -u "$user")
for unified in /sys/fs/cgroup/unified /sys/fs/cgroup; do
  scope="$unified/user.slice/user-$uid.slice/user@$uid.service/session.scope"
  if [ -w "$scope/cgroup.procs" ]; then echo $$ > "$scope/cgroup.procs"; break; fi
done
exec runuser -u "$user" -- "$@"
