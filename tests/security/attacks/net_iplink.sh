#!/bin/sh
# Bring up a new network interface with iproute2 (`ip link add ... type
# dummy`, and the kinds a kernel without the dummy driver still has).
#
# usage: net_iplink.sh IFNAME
# ESCAPED if any interface could be created (it is then brought up and
# deleted again); BLOCKED if every kind was refused.
name="$1"
if ! command -v ip >/dev/null 2>&1; then
    echo "BLOCKED: no ip command"
    exit 1
fi
made=""
errors=""
i=0
for kind in dummy veth bridge ifb vxlan; do
    dev="$name$i"
    i=$((i + 1))
    case $kind in
        vxlan) extra="id 42 dstport 4789" ;;
        *) extra="" ;;
    esac
    # shellcheck disable=SC2086
    if out=$(ip link add "$dev" type $kind $extra 2>&1); then
        ip link set "$dev" up 2>/dev/null && state=up || state=down
        made="$made $dev($kind,$state)"
        ip link del "$dev" 2>/dev/null
    else
        errors="$errors; $kind: $out"
    fi
done
if [ -n "$made" ]; then
    echo "ESCAPED: created interfaces:$made"
    exit 0
fi
echo "BLOCKED: ip link add refused${errors}"
exit 1
