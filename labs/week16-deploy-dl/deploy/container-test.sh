#!/usr/bin/env bash
# The week 16 service in a real container, built and run on this machine with podman:
#   1. the lab's binary is built outside (cargo), stripped, and put with the shared libraries it
#      links into a root filesystem; Containerfile.scratch makes it an image FROM scratch (no
#      image can be pulled here);
#   2. the container starts with a trained model mounted read-only; the test waits for /readyz
#      (the cold start), sends real PNGs of MNIST test images over loopback and checks the
#      classes, checks that a bad upload gets a 4xx and that the image's HEALTHCHECK passes;
#   3. podman stop sends SIGTERM: the service must drain and exit 0 by itself, well before the
#      grace period ends (a SIGKILL would exit 137).
# Prints the image's size and the cold start. Skips, saying so, where podman is missing.
# Usage: bash labs/week16-deploy-dl/deploy/container-test.sh [debug|release]
set -euo pipefail
cd "$(dirname "$0")/../../.."
profile=${1:-debug}
if ! command -v podman > /dev/null 2>&1; then
  echo "podman is not installed: the container test is skipped (apt-get install podman runc)"
  exit 0
fi
podman=(podman --runtime runc --cgroup-manager=cgroupfs)
flag=(); [ "$profile" = release ] && flag=(--release)
cargo build -q -p week16-deploy-dl "${flag[@]}"
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target/$profile/week16-deploy-dl"
work=$(mktemp -d)
name="week16-test-$$"
image="localhost/week16-deploy-dl:test-$$"
cleanup() {
  "${podman[@]}" rm -f "$name" > /dev/null 2>&1 || true
  "${podman[@]}" rmi -f "$image" > /dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== the root file system: the binary, its libraries, a user"
rootfs="$work/rootfs"
mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc" "$rootfs/model" "$rootfs/tmp"
strip -o "$rootfs/usr/local/bin/week16-deploy-dl" "$bin"
for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
done
printf 'root:x:0:0:root:/:/nonexistent\napp:x:65532:65532:app:/:/nonexistent\n' > "$rootfs/etc/passwd"
printf 'root:x:0:\napp:x:65532:\n' > "$rootfs/etc/group"
chmod 1777 "$rootfs/tmp"
cp labs/week16-deploy-dl/deploy/Containerfile.scratch "$work/Containerfile"

echo "== a model to mount, and test images"
"$bin" train --model "$work/model" --epochs 1 > /dev/null
"$bin" samples --dir "$work/samples" --count 20 > /dev/null

echo "== podman build (format docker, which keeps HEALTHCHECK)"
"${podman[@]}" build -q --format docker -t "$image" "$work" > /dev/null
size=$("${podman[@]}" image inspect --format '{{.Size}}' "$image")
echo "image size: $((size / 1024 / 1024)) MiB ($size bytes; binary $(( $(stat -c %s "$rootfs/usr/local/bin/week16-deploy-dl") / 1024 / 1024 )) MiB stripped)"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
addr="127.0.0.1:$port"
echo "== podman run, and the cold start until /readyz answers 200"
start=$(date +%s%N)
# (Without systemd, podman says it cannot schedule the health check's timer: the check itself
# still runs below, by hand.)
"${podman[@]}" run -d --name "$name" --network=host -e ADDR="$addr" \
  -v "$work/model:/model:ro" "$image" > /dev/null 2> "$work/run.log" \
  || { cat "$work/run.log" >&2; exit 1; }
ready=""
for _ in $(seq 1 600); do
  if "$bin" healthcheck --addr "$addr" > /dev/null 2>&1; then ready=1; break; fi
  sleep 0.02
done
[ -n "$ready" ] || { echo "the container never became ready" >&2; "${podman[@]}" logs "$name" >&2; exit 1; }
echo "cold start: $(( ($(date +%s%N) - start) / 1000000 )) ms from podman run to ready"

echo "== predictions over loopback"
right=0
for f in "$work"/samples/*.png; do
  label=$(basename "$f" .png); label=${label##*-label}
  answer=$("$bin" predict "$f" --url "http://$addr/v1/predict")
  class=$(echo "$answer" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read().split(" ", 2)[2])["class"])')
  [ "$class" = "$label" ] && right=$((right + 1))
done
echo "$right of 20 test images classified correctly through the container"
[ "$right" -ge 18 ] || { echo "expected at least 18 of 20 (a model of about 95 % after one epoch)" >&2; exit 1; }
echo "not an image" > "$work/bad.png"
if out=$("$bin" predict "$work/bad.png" --url "http://$addr/v1/predict" 2>&1); then
  echo "a text file was accepted: $out" >&2; exit 1
fi
echo "$out" | grep -q "415" || { echo "expected 415 for a text file: $out" >&2; exit 1; }
echo "a text file: refused with 415"

echo "== the image's HEALTHCHECK"
"${podman[@]}" healthcheck run "$name" 2> "$work/health.log" && echo "healthcheck: healthy" \
  || { cat "$work/health.log" >&2; exit 1; }

echo "== podman stop (SIGTERM): a graceful exit"
t0=$(date +%s%N)
"${podman[@]}" stop -t 30 "$name" > /dev/null 2> "$work/stop.log" || { cat "$work/stop.log" >&2; exit 1; }
code=$("${podman[@]}" inspect --format '{{.State.ExitCode}}' "$name")
echo "exit code $code after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
"${podman[@]}" logs "$name" 2>&1 | tail -3
[ "$code" = 0 ] || { echo "expected exit code 0 (137 means it had to be killed)" >&2; exit 1; }
"${podman[@]}" logs "$name" 2>&1 | grep -q "stopped cleanly" || { echo "no clean-stop line in the logs" >&2; exit 1; }
echo "container test passed"
