#!/usr/bin/env bash
# Installs what the test suites need beyond npm's packages, from Debian's packages, when missing:
# redis-server (tests start private ones), Chromium (browser tests), tifffile, scikit-image and libtiff-tools
# (independent implementations the tests compare against), and podman, buildah, runc, debootstrap, openssl
# (the deploy rehearsal, `npm run test:deploy`). Needs root (or sudo) only when something is missing;
# otherwise it only checks. README's test command and .ci/run both start with it.
set -euo pipefail

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
/usr/bin/python3 -c 'import tifffile' >/dev/null 2>&1 || need_apt+=(python3-tifffile)
/usr/bin/python3 -c 'import skimage' >/dev/null 2>&1 || need_apt+=(python3-skimage)
command -v tiffinfo >/dev/null 2>&1 || need_apt+=(libtiff-tools)
for tool in podman buildah runc debootstrap openssl; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || need_apt+=("$tool")
done
[ ${#need_apt[@]} -eq 0 ] && exit 0

echo "setup-tests: installing ${need_apt[*]} (Debian packages)"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "setup-tests: not root and no sudo: install these Debian packages first: ${need_apt[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q "${need_apt[@]}"
