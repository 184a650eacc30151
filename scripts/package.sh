#!/usr/bin/env bash
# package.sh [--out DIR] [--deb] [--rpm] [--keep]: builds kiroku's .deb and .rpm packages from a clean copy
# of this tree. The version is project(kiroku VERSION ...) in CMakeLists.txt, and nothing else: this
# script writes debian/changelog with it and hands it to rpmbuild. Needs dpkg-buildpackage, debhelper and
# the Build-Depends of packaging/debian/control for the .deb packages, rpmbuild (Debian package rpm) for
# the .rpm packages. Options: --out DIR (default out/packages), --deb or --rpm for one format only,
# --keep to keep the scratch directory. Prints the paths of the packages on stdout, one a line.
# On Debian rpmbuild cannot check the spec's BuildRequires (they name Fedora's packages), so it runs with
# --nodeps there: those .rpm files are for checking the spec; build real ones on the target distribution.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/out/packages"
want_deb=1 want_rpm=1 keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --deb) want_deb=1 want_rpm=0; shift ;;
    --rpm) want_deb=0 want_rpm=1; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,10s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "package.sh: unknown argument \"$1\" (see package.sh --help)" >&2; exit 1 ;;
  esac
done

version=$(sed -n 's/^project(kiroku VERSION \([0-9][0-9.]*\)[ )].*/\1/p' "$root/CMakeLists.txt")
if [ -z "$version" ]; then
  echo "package.sh: no 'project(kiroku VERSION X.Y.Z ...)' line in $root/CMakeLists.txt" >&2
  exit 1
fi
need() { command -v "$1" >/dev/null || { echo "package.sh: $1 is missing: $2" >&2; exit 1; }; }
[ $want_deb = 1 ] && need dpkg-buildpackage "apt-get install dpkg-dev debhelper (scripts/ci-packages.sh lists every tool)"
[ $want_rpm = 1 ] && need rpmbuild "apt-get install rpm (Debian) or dnf install rpm-build"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/kiroku-package-XXXXXX")
cleanup() { if [ $keep = 1 ]; then echo "package.sh: scratch directory kept: $scratch" >&2; else rm -rf "$scratch"; fi; }
trap cleanup EXIT
mkdir -p "$out"
out=$(cd "$out" && pwd)

# A clean copy: the working tree without build directories, packages or a stray debian/.
src="$scratch/kiroku-$version"
mkdir -p "$src"
tar -C "$root" --exclude='./build*' --exclude=./.git --exclude=./out --exclude=./debian -cf - . | tar -C "$src" -xf -

if [ $want_deb = 1 ]; then
  cp -r "$root/packaging/debian" "$src/debian"
  maintainer=$(sed -n 's/^Maintainer: //p' "$src/debian/control")
  when=$(date -R ${SOURCE_DATE_EPOCH:+-d "@$SOURCE_DATE_EPOCH"})
  cat >"$src/debian/changelog" <<EOF
kiroku ($version) unstable; urgency=medium

  * kiroku $version, the version of CMakeLists.txt (this entry is written by
    scripts/package.sh: see docs/packaging.md).

 -- $maintainer  $when
EOF
  echo "package.sh: building the .deb packages of kiroku $version (dpkg-buildpackage -us -uc -b)" >&2
  if ! (cd "$src" && DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" \
        dpkg-buildpackage -us -uc -b) >"$scratch/deb.log" 2>&1; then
    tail -n 40 "$scratch/deb.log" >&2
    echo "package.sh: dpkg-buildpackage failed (whole log: $scratch/deb.log, kept)" >&2
    keep=1
    exit 1
  fi
  rm -rf "$src/debian" "$src/obj-"*
  for f in "$scratch"/*.deb "$scratch"/*.changes "$scratch"/*.buildinfo; do
    cp "$f" "$out/"
    case "$f" in *.deb|*.changes) echo "$out/$(basename "$f")" ;; esac
  done
fi

if [ $want_rpm = 1 ]; then
  top="$scratch/rpmbuild"
  mkdir -p "$top/SOURCES"
  tar -C "$scratch" -czf "$top/SOURCES/kiroku-$version.tar.gz" "kiroku-$version"
  rpmflags=(-bb --define "_topdir $top" --define "kiroku_version $version")
  if [ -e /etc/debian_version ]; then
    # Debian: BuildRequires name Fedora's packages and no debuginfo tools exist; the build dependencies
    # are Debian's own (the .deb's Build-Depends).
    rpmflags+=(--nodeps --define "debug_package %{nil}")
    echo "package.sh: building the .rpm packages of kiroku $version (rpmbuild --nodeps: on Debian the spec's BuildRequires can't be resolved)" >&2
  else
    echo "package.sh: building the .rpm packages of kiroku $version (rpmbuild)" >&2
  fi
  if ! rpmbuild "${rpmflags[@]}" "$root/packaging/rpm/kiroku.spec" >"$scratch/rpm.log" 2>&1; then
    tail -n 40 "$scratch/rpm.log" >&2
    echo "package.sh: rpmbuild failed (whole log: $scratch/rpm.log, kept)" >&2
    keep=1
    exit 1
  fi
  find "$top/RPMS" -name '*.rpm' | sort | while read -r f; do
    cp "$f" "$out/"
    echo "$out/$(basename "$f")"
  done
fi
