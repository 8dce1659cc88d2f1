# Shared by ci/cinderx, harness/cinderx/fidelity and harness/cinderx/test-withheld (sourced, bash).
# Expects the current directory to be the repository top and harness/cinderx/setup to have run.
#
# A build is named NAME and has its cinderx package unpacked at .cache/cinderx/builds/NAME/site/
# (only cinderx in it; builds/NAME/build.json describes it). `official` comes from
# harness/cinderx/setup, `baseline` and `patched` from harness/cinderx/build. The benchmark
# dependencies live apart in .cache/cinderx/deps/, so PYTHONPATH = build site + deps for any build.

CX_TOP=$PWD
CX=$CX_TOP/.cache/cinderx
CX_PY=$CX/bin/python3.14
CX_DEPS=$CX/deps
CX_JITMODE=$CX/jitmode
CX_TMP_BUILDS=()

# cx_die2 MESSAGE: removes this shell's temporary build dirs (an EXIT trap does not run in a
# subshell such as `( resolve_build X )`), says why and exits 2.
cx_die2() { cx_cleanup; echo "$0: $*" >&2; exit 2; }
# cx_need_value OPTION ARGS...: prints the option's value (the first of ARGS), or exits 2 naming the
# option when it has none. Use as value=$(cx_need_value "$@") while "$1" is the option.
cx_need_value() { [ $# -ge 2 ] && [ -n "$2" ] || cx_die2 "$1 needs a value (see --help)"; echo "$2"; }

# resolve_build SPEC: sets BUILD_NAME, BUILD_DIR and BUILD_SITE, or exits 2 saying why.
# SPEC is a build name (official, baseline, patched, or any NAME under .cache/cinderx/builds/),
# a .whl file (unpacked into a temporary build dir, removed by cx_cleanup), or a build directory
# (one holding site/).
resolve_build() {
  local spec=$1 sha
  if [[ $spec == *.whl ]]; then
    [ -f "$spec" ] || cx_die2 "--wheel $spec: no such wheel file"
    python3 -c 'import sys, zipfile; sys.exit(0 if zipfile.is_zipfile(sys.argv[1]) else 1)' "$spec" ||
      cx_die2 "--wheel $spec: not a wheel (not a zip file)"
    sha=$(sha256sum "$spec" | cut -c1-12)
    BUILD_NAME=wheel-$sha
    BUILD_DIR=$(mktemp -d "$CX/builds/tmp-$BUILD_NAME.XXXXXX")
    CX_TMP_BUILDS+=("$BUILD_DIR")
    local err
    err=$(python3 -m zipfile -e "$spec" "$BUILD_DIR/site" 2>&1 >/dev/null) || {
      rm -rf "$BUILD_DIR"
      cx_die2 "--wheel $spec: cannot unpack it as a wheel (zip): $(tail -n 1 <<< "$err")"
    }
    python3 - "$BUILD_DIR/build.json" "$BUILD_NAME" "$(cd "$(dirname "$spec")" && pwd)/$(basename "$spec")" "$sha" <<'PY'
import json, sys
json.dump({"name": sys.argv[2], "kind": "wheel file", "wheel": sys.argv[3], "sha256_prefix": sys.argv[4]},
          open(sys.argv[1], "w"), indent=1)
PY
  elif [[ $spec == */* ]]; then
    [ -d "$spec/site" ] || cx_die2 "--wheel $spec: not a build directory (no $spec/site)"
    BUILD_DIR=$(cd "$spec" && pwd)
    BUILD_NAME=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("name", ""))' "$BUILD_DIR/build.json" 2>/dev/null)
    [ -n "$BUILD_NAME" ] || BUILD_NAME=$(basename "$BUILD_DIR")
    # The name becomes a results directory that is removed and remade: keep it a plain name.
    [[ $BUILD_NAME =~ ^[A-Za-z0-9._-]+$ && $BUILD_NAME != .* ]] ||
      cx_die2 "--wheel $spec: its build.json names it '$BUILD_NAME', not a plain name"
  else
    [[ $spec =~ ^[A-Za-z0-9._-]+$ ]] || cx_die2 "--wheel $spec: not a build name, .whl file or build directory"
    BUILD_NAME=$spec
    BUILD_DIR=$CX/builds/$spec
    if [ ! -d "$BUILD_DIR/site" ]; then
      case $spec in
        official) cx_die2 "--wheel official: $BUILD_DIR/site is missing; run harness/cinderx/setup" ;;
        baseline) cx_die2 "--wheel baseline: $BUILD_DIR/site is missing; build it with harness/cinderx/build" ;;
        patched) cx_die2 "--wheel patched: $BUILD_DIR/site is missing; build it with harness/cinderx/build --patches DIR" ;;
        *) cx_die2 "--wheel $spec: unknown build (no $BUILD_DIR/site); known builds: $(ls "$CX/builds" 2>/dev/null | grep -v '^tmp-' | tr '\n' ' ')" ;;
      esac
    fi
  fi
  BUILD_SITE=$BUILD_DIR/site
  [ -d "$BUILD_SITE/cinderx" ] || cx_die2 "--wheel $spec: $BUILD_SITE holds no cinderx package"
}

cx_cleanup() { local d; for d in "${CX_TMP_BUILDS[@]}"; do rm -rf "$d"; done; }

# guest_in SITE ARGS...: runs the guest python3.14 with PYTHONPATH = SITE + deps (stderr without
# qemu's harmless madvise lines).
guest_in() {
  local site=$1; shift
  PYTHONPATH="$site:$CX_DEPS" "$CX_PY" "$@" 2> >(grep -v 'madvise' >&2)
}
