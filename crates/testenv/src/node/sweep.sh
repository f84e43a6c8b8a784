# Removes what one test node left on the machine; run by Node's teardown after its graceful steps,
# and by the watchdog when the owning process died without running destructors.
#
# Usage: bash -c "$(cat sweep.sh)" sweep CGROUP_ROOT NODE_DIR [MORE_DIRS...]
#   CGROUP_ROOT  the kubelet's cgroupRoot (/vaultsync-node-...), created in every hierarchy
#   NODE_DIR     containerd's root/state, the kubelet's root dir, sockets and pod logs
# Order matters: processes first (they pin mounts and cgroups), then mounts, then cgroups, then
# files. Every step tolerates what is already gone, so running it twice is harmless.
cgroup_root="$1"; node_dir="$2"; shift 2
case "$cgroup_root" in /vaultsync-*) ;; *) echo "sweep: refusing cgroup root '$cgroup_root'" >&2; exit 2 ;; esac
case "$node_dir" in /*/vaultsync-node-*) ;; *) echo "sweep: refusing directory '$node_dir'" >&2; exit 2 ;; esac

hierarchies() {
  for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
    [ -d "$h${cgroup_root#/}" ] && echo "$h${cgroup_root#/}"
  done
}

# 1. Every process in the node's cgroups (pause, containers), and the containerd shims serving
#    this node's containerd (they live in the owner's cgroup, found by their -address).
for round in 1 2 3 4 5 6 7 8 9 10; do
  pids=""
  for d in $(hierarchies); do
    pids="$pids $(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null)"
  done
  for p in /proc/[0-9]*; do
    # By executable name first: this very script's command line mentions both strings.
    [ "$(cat "$p/comm" 2>/dev/null)" = containerd-shim ] || continue
    cmd="$(tr "\\0" " " 2>/dev/null <"$p/cmdline")" || continue
    case "$cmd" in *"-address $node_dir/"*) pids="$pids ${p#/proc/}" ;; esac
  done
  pids="$(echo $pids)"
  [ -z "$pids" ] && break
  kill -KILL $pids 2>/dev/null
  sleep 0.3
done

# 2. Mounts under the node's directories, deepest first (secret and projected tmpfs volumes,
#    container rootfs overlays, sandbox shm, the kubelet's bind mount of its own root dir).
for dir in "$node_dir" "$@"; do
  for round in 1 2 3; do
    mounts="$(awk -v d="$dir/" 'index($5, d) == 1 || $5 == substr(d, 1, length(d) - 1) { print $5 }' /proc/self/mountinfo | sort -r)"
    [ -z "$mounts" ] && break
    for m in $mounts; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
  done
done

# 3. Cgroups, deepest first (a cgroup directory is removed with rmdir once it holds no process).
for d in $(hierarchies); do
  find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
done

# 4. Symlinks the kubelet makes in the fixed /var/log/containers, then the files.
for link in /var/log/containers/*.log; do
  case "$(readlink "$link" 2>/dev/null)" in "$node_dir/"*) rm -f "$link" ;; esac
done
rm -rf --one-file-system "$node_dir" "$@"
exit 0
