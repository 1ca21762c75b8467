#!/usr/bin/env bash
# The two base images the Containerfiles start FROM, made here because no image can be pulled:
#   localhost/wb-debian:bookworm-slim  Debian 12 (debootstrap's minbase, docs and caches removed),
#                                      the multi-stage build's runtime;
#   localhost/wb-rust:1.95-bookworm    the same with gcc and libc6-dev, and this machine's Rust
#                                      1.95 toolchain (rustc, cargo, the standard library).
# Debian comes from the mirror apt already uses here. The root file systems are kept as tar files
# in ~/.cache/workbook-images (WORKBOOK_IMAGES), so a second run only imports them.
# Usage: bash labs/week29-containers-k8s/deploy/base-images.sh
set -euo pipefail
podman=(podman --runtime runc --cgroup-manager=cgroupfs)
cache=${WORKBOOK_IMAGES:-$HOME/.cache/workbook-images}
mkdir -p "$cache"
mirror=$(awk '/^URIs:/ { uri = $2 } /^Suites:/ && / bookworm( |$)/ && uri ~ /\/debian\/?$/ { print uri; exit }' \
  /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)

rootfs() { # name, extra packages
  local tar="$cache/$1.tar"
  [ -s "$tar" ] && return 0
  command -v debootstrap > /dev/null || { echo "debootstrap is needed (apt-get install debootstrap)" >&2; exit 1; }
  [ -n "$mirror" ] || { echo "no Debian bookworm mirror in apt's sources" >&2; exit 1; }
  local dir; dir=$(mktemp -d)
  echo "debootstrap $1 (minbase${2:+ + $2}) …"
  debootstrap --variant=minbase ${2:+--include="$2"} bookworm "$dir" "$mirror" > "$cache/$1.log" 2>&1 \
    || { tail -20 "$cache/$1.log" >&2; exit 1; }
  # What debian:bookworm-slim leaves out: documentation, manuals, locales, apt's caches.
  rm -rf "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/usr/share/locale/* \
    "$dir"/var/cache/apt/* "$dir"/var/lib/apt/lists/* "$dir"/var/log/*
  tar -C "$dir" -cf "$tar.part" . && mv "$tar.part" "$tar"
  rm -rf "$dir"
}

if ! "${podman[@]}" image exists localhost/wb-debian:bookworm-slim; then
  rootfs debian-bookworm-minbase ""
  "${podman[@]}" import -q "$cache/debian-bookworm-minbase.tar" localhost/wb-debian:bookworm-slim > /dev/null
fi
if ! "${podman[@]}" image exists localhost/wb-rust:1.95-bookworm; then
  rootfs debian-bookworm-gcc "gcc,libc6-dev,ca-certificates"
  toolchain=$(rustc +1.95 --print sysroot 2>/dev/null || rustc --print sysroot)
  "$toolchain/bin/rustc" --version | grep -q '^rustc 1\.95\.' || { echo "$toolchain is not Rust 1.95" >&2; exit 1; }
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  tar -C "$work" -xf "$cache/debian-bookworm-gcc.tar"
  mkdir -p "$work/usr/local/rust/lib/rustlib"
  cp -a "$toolchain/bin" "$work/usr/local/rust/"
  cp -a "$toolchain"/lib/*.so* "$work/usr/local/rust/lib/"
  cp -a "$toolchain/lib/rustlib/x86_64-unknown-linux-gnu" "$work/usr/local/rust/lib/rustlib/"
  tar -C "$work" -c . | "${podman[@]}" import -q \
    --change 'ENV=PATH=/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV=CARGO_HOME=/usr/local/cargo' - localhost/wb-rust:1.95-bookworm > /dev/null
fi
"${podman[@]}" images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E 'wb-(debian|rust)'
