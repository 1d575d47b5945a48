#!/usr/bin/env bash
# A throwaway single-node Ceph (one monitor, one in-memory OSD, radosgw) serving S3 on 127.0.0.1,
# for tests. Usage: scripts/ceph-rgw.sh DIR RGW_PORT MON_PORT MON_V1_PORT
# Writes DIR/{mon,osd,rgw}.pid (stop them by PID) and creates the S3 user CIACCESSKEY/CISECRETKEY.
# The monitor ports are arguments because a monitor left from an earlier run keeps its port and
# would silently answer a new cluster's clients.
set -euo pipefail
D=${1:?dir}; PORT=${2:?rgw port}; MON=${3:?mon port}; MONV1=${4:?mon v1 port}
rm -rf "$D"; mkdir -p "$D"/{mon,osd,rgw,run,log}; cd "$D"
FSID=$(cat /proc/sys/kernel/random/uuid)
cat > ceph.conf <<CONF
[global]
fsid = $FSID
mon host = v2:127.0.0.1:$MON
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc secure
ms bind ipv6 = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
run dir = $D/run
admin socket = $D/run/\$name.asok
log file = $D/log/\$name.log
mon data = $D/mon/\$cluster-\$id
osd data = $D/osd/\$cluster-\$id
[osd]
osd objectstore = memstore
memstore device bytes = 2147483648
[client.rgw.a]
rgw data = $D/rgw
rgw frontends = beast endpoint=127.0.0.1:$PORT
CONF
export CEPH_CONF=$D/ceph.conf
monmaptool --create --addv a "[v2:127.0.0.1:$MON,v1:127.0.0.1:$MONV1]" --fsid "$FSID" monmap >/dev/null
ceph-mon --mkfs -i a --monmap monmap
ceph-mon -i a -f > log/mon.out 2>&1 & echo $! > mon.pid
OSDUUID=$(cat /proc/sys/kernel/random/uuid)
ID=$(timeout 60 ceph osd new "$OSDUUID")
mkdir -p "osd/ceph-$ID"
ceph-osd -i "$ID" --mkfs --osd-uuid "$OSDUUID" > log/osd-mkfs.out 2>&1
ceph-osd -i "$ID" -f > log/osd.out 2>&1 & echo $! > osd.pid
radosgw -n client.rgw.a -f > log/rgw.out 2>&1 & echo $! > rgw.pid
for _ in $(seq 1 240); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.5; done
curl -sf -o /dev/null "http://127.0.0.1:$PORT/" || { echo "radosgw did not come up"; tail -20 log/*.log; exit 1; }
radosgw-admin user create --uid=ci --display-name=ci --access-key=CIACCESSKEY --secret-key=CISECRETKEY >/dev/null
echo "radosgw ready on http://127.0.0.1:$PORT"
