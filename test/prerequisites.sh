#!/usr/bin/env bash
# Installs what the tests drive that npm cannot provide: programs from Debian's packages.
# Runs before `npm test`; quiet when everything is there already.
set -euo pipefail

# command the tests run -> Debian package that provides it
declare -A package_for=(
  [tmux]=tmux       # the interactive client is tested in a real pseudo-terminal
  [openssl]=openssl # a self-signed certificate for the TLS test
  [chromium]=chromium # the web page is tested in a real headless browser (never a downloaded one)
  [redis-server]=redis-server # several instances sharing one chat through Redis
)

missing=()
for command in "${!package_for[@]}"; do
  command -v "$command" >/dev/null 2>&1 || missing+=("${package_for[$command]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "The tests need ${missing[*]}; install it with your package manager and run the tests again." >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "The tests need ${missing[*]}: run 'apt-get install ${missing[*]}' as root, then run the tests again." >&2
    exit 1
  fi
  sudo=sudo
fi
# Installing system packages is not something to do behind a person's back: on a terminal, ask
# first. CI (CI=true) and anything without a terminal install without asking.
if [ -t 0 ] && [ -t 2 ] && [ "${CI:-}" != "true" ]; then
  read -r -p "The tests need ${missing[*]} (Debian packages). Install them now with ${sudo:+sudo }apt-get? [y/N] " answer >&2 || answer=""
  case "$answer" in
    [yY]*) ;;
    *)
      echo "Not installed. Install them with '${sudo:+sudo }apt-get install ${missing[*]}', or run 'CI=true npm test' to let the tests do it, then run the tests again." >&2
      exit 1
      ;;
  esac
fi
echo "Installing ${missing[*]} for the tests (apt-get)..." >&2
$sudo apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
