#!/bin/bash
# build.sh -- build OpenPBS from the source tarball $PBS_SOURCE and install it into /opt/pbs.
#
#   PBS_SOURCE=path/to/openpbs-src.tar.xz build.sh           skip if /opt/pbs already holds
#                                                            this exact build (stamp file)
#   PBS_SOURCE=path/to/openpbs-src.tar.xz build.sh --force   rebuild anyway
#
# The tarball is a `git archive` of github.com/openpbs/openpbs (the bed was checked with
# 23.06.06, commit cd7ab5edaf03dcac2f1cb9e2f42d75eb117d468a); any compression tar -xf
# knows. It is not part of this repository. With several top-level entries it is
# unpacked as is; with one top-level directory, that directory is the source tree.
#
# ~2.5 min on 2 cores (autogen ~7 s, configure ~13 s, make -j2 ~2 min, install ~5 s) + apt deps.
# Installs Debian build/run dependencies with apt (the only network use).
# Touches nothing else in /etc: pbs_postinstall is NOT run (it would write
# /etc/pbs.conf, /etc/init.d/pbs, /etc/profile.d/pbs.{sh,csh}); up.sh creates
# PBS_HOME under $PBSLAB from its own pbs.conf instead.
# Work dir + logs: $PBSLAB/build (default /var/spool/mpi-cluster-pbs/build); the source tree is
# removed after a successful build, the logs are kept.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PBSLAB=${PBSLAB:-/var/spool/mpi-cluster-pbs}
PREFIX=/opt/pbs
CONFIGURE_OPTS="--prefix=$PREFIX --with-python=/usr"
STAMP=$PREFIX/.testbed-build
B=$PBSLAB/build
FORCE=0
case "${1:-}" in --force) FORCE=1 ;; "") ;; *) echo "usage: $0 [--force]" >&2; exit 2 ;; esac

# PITFALL: configure must not find a pyenv/venv python first (no shared
# libpython, and pbs_server embeds Python): clean PATH + --with-python=/usr.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
T0=$(date +%s)
step() { echo "[pbs-build $(( $(date +%s) - T0 ))s] $*"; }

if [ -z "${PBS_SOURCE:-}" ]; then
  echo "pbs-build: PBS_SOURCE is not set: set it to an OpenPBS source tarball (a git archive of" >&2
  echo "  github.com/openpbs/openpbs, e.g. PBS_SOURCE=/path/to/openpbs-src.tar.xz $0); none is in this repository" >&2
  exit 2
fi
[ -f "$PBS_SOURCE" ] && [ -s "$PBS_SOURCE" ] || { echo "pbs-build: PBS_SOURCE=$PBS_SOURCE is not a (non-empty) file" >&2; exit 2; }
TARBALL=$(realpath "$PBS_SOURCE")
[ "$(id -u)" = 0 ] || { echo "pbs-build: run as root" >&2; exit 1; }
SHA=$(sha256sum "$TARBALL" | awk '{print $1}')
# git archive writes the commit id into the tar's pax header: name it in the stamp when readable
# (a "comment=<sha1>" record in the first 1 KiB of the uncompressed tar)
COMMIT=
for z in "xz -dc" "gzip -dc" "bzip2 -dc" "zstd -dc" cat; do
  COMMIT=$( { $z "$TARBALL" 2>/dev/null || true; } | head -c 1024 | { grep -ao 'comment=[0-9a-f]\{40\}' || true; } | head -n 1 | cut -d= -f2)
  [ -n "$COMMIT" ] && break
done
COMMIT=${COMMIT:-unknown}
WANT="openpbs commit=$COMMIT tarball-sha256=$SHA configure=$CONFIGURE_OPTS"

if [ $FORCE = 0 ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$WANT" ] &&
   [ -x $PREFIX/sbin/pbs_server.bin ] && "$PREFIX/bin/qstat" --version >/dev/null 2>&1; then
  chmod 4755 $PREFIX/sbin/pbs_iff $PREFIX/sbin/pbs_rcp
  step "already built: $PREFIX holds $("$PREFIX/bin/qstat" --version) ($COMMIT); --force rebuilds"
  exit 0
fi

# Refuse to replace binaries that are running (stop the bed first).
for d in /proc/[0-9]*; do
  exe=$(readlink "$d/exe" 2>/dev/null) || continue
  case $exe in "$PREFIX"/*) echo "pbs-build: $exe is running (pid ${d#/proc/}); run $HERE/down.sh first" >&2; exit 1 ;; esac
done
if [ -e "$PREFIX" ] && [ ! -e "$PREFIX/sbin/pbs_server.bin" ] && [ ! -e "$STAMP" ] && [ -n "$(ls -A "$PREFIX")" ]; then
  echo "pbs-build: $PREFIX exists and does not look like an OpenPBS install; not touching it" >&2; exit 1
fi

# ------------------------------------------------------------ apt dependencies
# Build deps from INSTALL ("For Debian systems") + pkg-config, libpq-dev;
# run deps: postgresql (the PBS data service), tcl/tk, expat.
PKGS="gcc g++ make libtool autoconf automake pkg-config perl
 libhwloc-dev libx11-dev libxt-dev libedit-dev libical-dev libncurses-dev
 postgresql postgresql-contrib postgresql-server-dev-all libpq-dev
 python3-dev tcl-dev tk-dev swig libexpat1-dev libssl-dev libxext-dev libxft-dev
 libcjson-dev zlib1g-dev expat tcl tk xz-utils"
# shellcheck disable=SC2086
if ! dpkg -s $PKGS >/dev/null 2>&1; then
  step "apt-get install (build + run dependencies)"
  mkdir -p "$B"
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then   # keep postgresql's postinst from starting a cluster
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made_policy=1
  fi
  [ -n "$(find /var/lib/apt/lists -name '*Packages*' -print -quit 2>/dev/null)" ] || apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PKGS >"$B/apt.log" 2>&1 ||
    { [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d; tail -n 20 "$B/apt.log" >&2; exit 1; }
  [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
fi

# ------------------------------------------------------------ build
rm -rf "$B/src"; mkdir -p "$B/src"
step "unpack $TARBALL (commit $COMMIT)"
tar -xf "$TARBALL" -C "$B/src"
cd "$B/src"
top=$(ls -A)
if [ ! -e autogen.sh ] && [ "$(echo "$top" | wc -l)" = 1 ] && [ -e "$top/autogen.sh" ]; then cd "$top"; fi
[ -e autogen.sh ] || { echo "pbs-build: $TARBALL holds no autogen.sh (not an OpenPBS source tree?)" >&2; exit 1; }
step "autogen.sh"
./autogen.sh >"$B/autogen.log" 2>&1 || { tail -n 20 "$B/autogen.log" >&2; exit 1; }
step "configure $CONFIGURE_OPTS"
# shellcheck disable=SC2086
./configure $CONFIGURE_OPTS >"$B/configure.log" 2>&1 || { tail -n 20 "$B/configure.log" >&2; exit 1; }
step "make -j$(nproc)"
make -j"$(nproc)" >"$B/make.log" 2>&1 || { tail -n 40 "$B/make.log" >&2; exit 1; }
step "make install -> $PREFIX"
rm -rf "$PREFIX"
make install >"$B/install.log" 2>&1 || { tail -n 20 "$B/install.log" >&2; exit 1; }
# setuid helpers (INSTALL, post-install step): pbs_iff authenticates client
# commands to the server with a privileged source port; normal users need it.
chmod 4755 $PREFIX/sbin/pbs_iff $PREFIX/sbin/pbs_rcp
echo "$WANT" > "$STAMP"
cd / && rm -rf "$B/src"
step "done: $("$PREFIX/bin/qstat" --version), $(du -sh "$PREFIX" | cut -f1) in $PREFIX (logs: $B)"
