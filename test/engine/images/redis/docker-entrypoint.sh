#!/bin/bash
# The official redis image's contract: flags alone mean redis-server; without a config file,
# listen on every address with protected mode off (the container network is the boundary);
# drop to the redis user.
set -euo pipefail
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then set -- redis-server "$@"; fi
if [ "$1" = 'redis-server' ]; then
  if [ "${2:-}" = '' ] || [ "${2#-}" != "$2" ]; then
    shift
    set -- redis-server --bind '* -::*' --protected-mode no --daemonize no "$@"
  fi
  if [ "$(id -u)" = '0' ]; then
    chown -R redis:redis /data 2>/dev/null || true
    exec setpriv --reuid=redis --regid=redis --init-groups "$@"
  fi
fi
exec "$@"
