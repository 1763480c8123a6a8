"""Send raw Ethernet frames on an interface (AF_PACKET), one hex-encoded frame per line of a file. Run inside a
namespace with `ip netns exec NS python3 rawsend.py IFACE FILE`; prints how many were sent. Used to put damaged
frames on the wire towards the guest (tests/test_net_boot.py)."""
import socket
import sys
import time


def main():
    iface, path = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    n = 0
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                s.send(bytes.fromhex(line))
                n += 1
                if n % 32 == 0:
                    time.sleep(0.001)  # let the guest drain its ring: this tests parsing, not overruns
    print(n)


if __name__ == "__main__":
    main()
