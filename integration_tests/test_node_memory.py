"""Memory the node holds outside --max-memory (issue 7 item 9): reported in info as
memory_outside_store_bytes, and given back after a large frame."""
import time

from node_wire import NodeConnection, encode, hlc_now, read_frame
from test_node_protocol import info


def outside(port):
    return info(port)["memory_outside_store_bytes"]


def test_input_buffer_shrinks_after_a_large_frame_with_a_partial_one_behind(start_node):
    n = start_node("mem", extra=("--threads", "1"))
    with NodeConnection(n.port, timeout=20) as c:
        get = encode("Get", 2, key=b"big")
        # A 24 MiB put and, in the same bytes, half of the next frame: the buffer is never empty.
        c.sock.sendall(encode("Put", 1, key=b"big", value=b"x" * (24 << 20),
                              version=(hlc_now(), 1)) + get[:7])
        assert read_frame(c.sock)[:2] == (1, "PutResponse")
        time.sleep(1.3)  # the worker measures its buffers every second
        held = outside(n.port)
        assert 0 < held < 4 << 20, held
        c.sock.sendall(get[7:])
        assert read_frame(c.sock)[:2] == (2, "GetResponse")
