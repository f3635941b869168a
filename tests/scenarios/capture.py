#!/usr/bin/python3
"""Count every IPv4 packet leaving the network namespace this runs in (an
AF_PACKET socket sees each outgoing frame on every interface), until SIGTERM;
then write {"packets": [[ifname, src, dst, proto, dport], ...]} as JSON to the
file given as argument. Run inside a namespace with `ip netns exec`."""
import json
import signal
import socket
import struct
import sys

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4

out = sys.argv[1]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
s.settimeout(0.2)
packets = []
stop = []
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
with open(out + ".ready", "w") as f:
    f.write("ready\n")
while not stop:
    try:
        frame, addr = s.recvfrom(65535)
    except socket.timeout:
        continue
    except InterruptedError:
        continue
    ifname, proto, pkttype = addr[0], addr[1], addr[2]
    if pkttype != PACKET_OUTGOING or proto != 0x0800 or len(frame) < 34:
        continue
    ip = frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    dport = struct.unpack("!H", ip[ihl + 2:ihl + 4])[0] if ip[9] in (6, 17) else 0
    packets.append([ifname, socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20]), ip[9],
                    dport])
with open(out, "w") as f:
    json.dump({"packets": packets}, f)
