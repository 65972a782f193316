"""A minimal encoder/decoder for the node protocol (schemas/shoal.fbs) for integration tests.

Debian's python3 has no `flatbuffers` module here, so this hand-encodes FlatBuffers tables in a
forward layout (the format allows it: vtables before their tables, children after their parents)
and decodes any table through its vtable. Only what the tests need: the messages of shoal.fbs.

    frame = encode("Put", 7, key=b"k", value=b"v", version=(hlc, writer))
    sock.sendall(frame)
    request_id, kind, fields = read_frame(sock)     # e.g. (7, "PutResponse", {"applied": True, ...})
"""
import socket
import struct
import time

# Field lists in schema order (the field id is the index). Kinds: u8 u16 u32 u64 bool str bytes
# version (the Version struct), table:<Name> (one table: a dict), tables:<Name> (a vector of
# tables), u32s / u64s (vectors of scalars).
SCHEMA = {
    "Hello": [("protocol_version", "u32"), ("cluster", "str"), ("sender_id", "str"),
              ("role", "u8"), ("nonce", "bytes")],
    "HelloResponse": [("protocol_version", "u32"), ("cluster", "str"), ("node_id", "str"),
                      ("max_hlc", "u64"), ("shards", "u32"), ("max_frame_size", "u32"),
                      ("challenge", "bytes"), ("node_proof", "bytes"), ("auth_required", "bool")],
    "Get": [("key", "bytes"), ("want_value", "bool")],
    "GetResponse": [("found", "bool"), ("tombstone", "bool"), ("value", "bytes"),
                    ("version", "version"), ("expire_at_ms", "u64"),
                    ("expiry_version", "version")],
    "Put": [("key", "bytes"), ("value", "bytes"), ("version", "version"), ("expire_at_ms", "u64"),
            ("tombstone", "bool"), ("condition", "u8"), ("keep_ttl", "bool"),
            ("want_previous", "bool"), ("expiry_version", "version")],
    "PutResponse": [("applied", "bool"), ("condition_failed", "bool"), ("current", "version"),
                    ("previous_found", "bool"), ("previous_value", "bytes"),
                    ("previous_version", "version"), ("previous_expire_at_ms", "u64"),
                    ("current_expiry_version", "version")],
    "Touch": [("key", "bytes"), ("version", "version"), ("expire_at_ms", "u64"),
              ("want_value", "bool")],
    "TouchResponse": [("found", "bool"), ("applied", "bool"), ("value", "bytes"),
                      ("version", "version"), ("previous_expire_at_ms", "u64")],
    "Error": [("code", "u16"), ("message", "str")],
    "Info": [],
    "Auth": [("proof", "bytes")],
    "AuthResponse": [("ok", "bool")],
    "InfoEntry": [("name", "str"), ("value", "str")],
    "InfoResponse": [("entries", "tables:InfoEntry")],
}
# The Message union, in schema order (0 is NONE).
MESSAGES = ["NONE", "Hello", "HelloResponse", "Get", "GetResponse", "Put", "PutResponse", "Touch",
            "TouchResponse", "Error", "Info", "InfoResponse", "Auth", "AuthResponse"]
ERROR_CODES = ["Unknown", "BadRequest", "TooLarge", "ClockSkew", "Unsupported", "Internal",
               "NotReady", "Unauthenticated", "WrongCluster", "OutOfMemory",
               "WrongRing"]
PROTOCOL_VERSION = 1

_SCALARS = {"u8": ("<B", 1), "bool": ("<B", 1), "u16": ("<H", 2), "u32": ("<I", 4),
            "u64": ("<Q", 8)}


# ---- encoding ----------------------------------------------------------------------------------

class _Writer:
    def __init__(self):
        self.buf = bytearray()

    def align(self, n):
        while len(self.buf) % n:
            self.buf.append(0)

    def table(self, fields):
        """fields: list (by id) of None or (kind, value). Returns the table's position."""
        inline = []  # (id, fmt/size or 'offset'/'version', value)
        self.align(2)
        vt_pos = len(self.buf)
        n = len(fields)
        self.buf += bytes(4 + 2 * n)  # vtable, patched below
        self.align(8)
        table_pos = len(self.buf)
        self.buf += struct.pack("<i", table_pos - vt_pos)
        offsets = [0] * n
        children = []
        for fid, f in enumerate(fields):
            if f is None:
                continue
            kind, value = f
            if kind in _SCALARS:
                fmt, size = _SCALARS[kind]
                self.align(size)
                offsets[fid] = len(self.buf) - table_pos
                self.buf += struct.pack(fmt, int(value))
            elif kind == "version":
                self.align(8)
                offsets[fid] = len(self.buf) - table_pos
                self.buf += struct.pack("<QQ", value[0], value[1])
            else:  # an offset to a child written after this table
                self.align(4)
                offsets[fid] = len(self.buf) - table_pos
                children.append((len(self.buf), kind, value))
                self.buf += bytes(4)
        table_size = len(self.buf) - table_pos
        struct.pack_into(f"<HH{n}H", self.buf, vt_pos, 4 + 2 * n, table_size, *offsets)
        for field_pos, kind, value in children:
            child = self.child(kind, value)
            struct.pack_into("<I", self.buf, field_pos, child - field_pos)
        return table_pos

    def child(self, kind, value):
        if kind in ("str", "bytes"):
            data = value.encode() if isinstance(value, str) else bytes(value)
            self.align(4)
            pos = len(self.buf)
            self.buf += struct.pack("<I", len(data)) + data + (b"\0" if kind == "str" else b"")
            return pos
        if kind in ("u32s", "u64s"):  # a vector of scalars
            fmt, size = ("<I", 4) if kind == "u32s" else ("<Q", 8)
            while (len(self.buf) + 4) % size:
                self.buf.append(0)
            pos = len(self.buf)
            self.buf += struct.pack("<I", len(value))
            for v in value:
                self.buf += struct.pack(fmt, v)
            return pos
        if kind == "table":  # (name, dict)
            name, fields = value
            return self.table(_fields(name, fields))
        if kind.startswith("table:"):  # a field holding one table of that name: a dict
            return self.table(_fields(kind.split(":", 1)[1], value))
        raise ValueError(f"cannot encode {kind}")


def _fields(name, values):
    spec = SCHEMA[name]
    names = [n for n, _ in spec]
    unknown = set(values) - set(names)
    if unknown:
        raise ValueError(f"{name} has no fields {unknown}")
    return [(kind, values[n]) if values.get(n) is not None else None for n, kind in spec]


def encode_raw(message_type_id, request_id, body_name=None, **fields):
    """A frame with any union type id (even one the schema does not know) and a body table."""
    w = _Writer()
    # Length prefix and root offset. Alignment counts from the prefix, as in FlatBuffers'
    # size-prefixed buffers: the node reads a frame from an 8-aligned address and refuses one
    # whose scalars are misaligned from its start.
    w.buf += bytes(8)
    env_fields = [("u64", request_id), ("u8", message_type_id)]
    env_fields.append(("table", (body_name, fields)) if body_name is not None else None)
    root = w.table(env_fields)
    struct.pack_into("<II", w.buf, 0, len(w.buf) - 4, root - 4)
    return bytes(w.buf)


def encode(message, request_id, **fields):
    """A whole frame (length prefix included) carrying `message` (a name from MESSAGES)."""
    return encode_raw(MESSAGES.index(message), request_id, message, **fields)


# ---- decoding ----------------------------------------------------------------------------------

def _table_fields(buf, table_pos):
    vt_pos = table_pos - struct.unpack_from("<i", buf, table_pos)[0]
    vt_size = struct.unpack_from("<H", buf, vt_pos)[0]
    count = (vt_size - 4) // 2
    return [struct.unpack_from("<H", buf, vt_pos + 4 + 2 * i)[0] for i in range(count)]


def _default(fname, kind):
    if kind == "bool":
        return fname == "want_value"
    if kind in _SCALARS:
        return 0
    return None


def _decode_table(buf, pos, name):
    offs = _table_fields(buf, pos)
    out = {}
    for fid, (fname, kind) in enumerate(SCHEMA[name]):
        off = offs[fid] if fid < len(offs) else 0
        if off == 0:  # absent: the schema default (only want_value defaults to true)
            out[fname] = _default(fname, kind)
            continue
        at = pos + off
        if kind in _SCALARS:
            v = struct.unpack_from(_SCALARS[kind][0], buf, at)[0]
            out[fname] = bool(v) if kind == "bool" else v
        elif kind == "version":
            out[fname] = struct.unpack_from("<QQ", buf, at)
        else:
            child = at + struct.unpack_from("<I", buf, at)[0]
            length = struct.unpack_from("<I", buf, child)[0]
            if kind == "str":
                out[fname] = bytes(buf[child + 4:child + 4 + length]).decode()
            elif kind == "bytes":
                out[fname] = bytes(buf[child + 4:child + 4 + length])
            elif kind in ("u32s", "u64s"):
                fmt, size = ("<I", 4) if kind == "u32s" else ("<Q", 8)
                out[fname] = [struct.unpack_from(fmt, buf, child + 4 + size * i)[0]
                              for i in range(length)]
            elif kind.startswith("table:"):
                out[fname] = _decode_table(buf, child, kind.split(":", 1)[1])
            elif kind.startswith("tables:"):
                sub = kind.split(":", 1)[1]
                items = []
                for i in range(length):
                    elem = child + 4 + 4 * i
                    items.append(_decode_table(buf, elem + struct.unpack_from("<I", buf, elem)[0],
                                               sub))
                out[fname] = items
    return out


def decode_frame(frame):
    """(request_id, message name, fields dict) of a whole frame (length prefix included)."""
    buf = memoryview(frame)[4:]
    root = struct.unpack_from("<I", buf, 0)[0]
    offs = _table_fields(buf, root)
    request_id = struct.unpack_from("<Q", buf, root + offs[0])[0] if offs[0] else 0
    type_id = buf[root + offs[1]] if len(offs) > 1 and offs[1] else 0
    name = MESSAGES[type_id] if type_id < len(MESSAGES) else f"#{type_id}"
    fields = {}
    if len(offs) > 2 and offs[2] and name in SCHEMA:
        at = root + offs[2]
        fields = _decode_table(buf, at + struct.unpack_from("<I", buf, at)[0], name)
    if name == "Error" and fields.get("code") is not None:
        fields["code_name"] = ERROR_CODES[fields["code"]]
    elif name == "Error":
        fields["code_name"] = "Unknown"
    return request_id, name, fields


def _recv_exact(sock, n):
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("connection closed by the node")
        data += chunk
    return bytes(data)


def read_frame(sock):
    """Reads one whole frame from `sock` and decodes it."""
    head = _recv_exact(sock, 4)
    (length,) = struct.unpack("<I", head)
    return decode_frame(head + _recv_exact(sock, length))


# ---- a small client ----------------------------------------------------------------------------

def hlc_now(offset_ms=0):
    """An HLC timestamp for the wall clock (+ offset), logical 0."""
    return (int(time.time() * 1000) + offset_ms) << 16


class NodeConnection:
    """One blocking connection to a node. call() sends one request and returns its response."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.next_id = 1

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, message, **fields):
        rid = self.next_id
        self.next_id += 1
        self.sock.sendall(encode(message, rid, **fields))
        return rid

    def call(self, message, **fields):
        rid = self.send(message, **fields)
        got_id, name, body = read_frame(self.sock)
        assert got_id == rid, f"response id {got_id} for request {rid}"
        return name, body

    def hello(self, cluster="shoal", sender_id="pytest"):
        return self.call("Hello", protocol_version=PROTOCOL_VERSION, cluster=cluster,
                         sender_id=sender_id, role=2)

    def put(self, key, value, hlc=None, writer=99, **extra):
        return self.call("Put", key=key, value=value, version=(hlc or hlc_now(), writer), **extra)

    def get(self, key):
        return self.call("Get", key=key)


# ---- appended: fields added to the schema later (append-only; nothing above changes) ----------
# Touch.condition (field 4, TouchCondition: ubyte) and TouchResponse.condition_failed (field 5).
SCHEMA["Touch"].append(("condition", "u8"))
SCHEMA["TouchResponse"].append(("condition_failed", "bool"))
SCHEMA["TouchResponse"].append(("previous_expiry_version", "version"))
SCHEMA["TouchResponse"].append(("tombstone", "bool"))
# TouchCondition values (EXPIRE NX | XX | GT | LT), as in schemas/shoal.fbs.
TOUCH_CONDITIONS = {"Always": 0, "IfNoExpiry": 1, "IfHasExpiry": 2, "IfGreater": 3, "IfLess": 4,
                    "IfHasExpiryAndLess": 5}
# Hinted handoff (issue 8): HintPut { target, put: Put } -> HintAck { stored, reason }.
SCHEMA["HintPut"] = [("target", "str"), ("put", "table:Put")]
SCHEMA["HintAck"] = [("stored", "bool"), ("reason", "str")]
MESSAGES += ["HintPut", "HintAck"]

# Anti-entropy (issue 8): GetResponse reports an absent key's evicted-version floor; the digest and
# key-version messages. Union members in schema order.
SCHEMA["GetResponse"] += [("floor_version", "version"), ("floor_expiry_version", "version")]
SCHEMA.update({
    "DigestRequest": [("peer", "str"), ("level", "u8"), ("first", "u32"), ("count", "u32")],
    "DigestResponse": [("level", "u8"), ("first", "u32"), ("hashes", "u64s")],
    "KeyVersionsRequest": [("peer", "str"), ("slices", "u32s")],
    "KeyVersion": [("key", "bytes"), ("version", "version"), ("expiry_version", "version"),
                   ("tombstone", "bool"), ("expire_at_ms", "u64")],
    "KeyVersionsResponse": [("entries", "tables:KeyVersion")],
})
MESSAGES += ["DigestRequest", "DigestResponse", "KeyVersionsRequest", "KeyVersionsResponse"]

# PutResponse.not_ready (a put applied by a node still warming up or syncing); Repair (shoalctl
# repair: one anti-entropy round now) -> RepairResponse.
SCHEMA["PutResponse"].append(("not_ready", "bool"))
SCHEMA.update({
    "Repair": [],
    "RepairResponse": [("ok", "bool"), ("error", "str"), ("peers", "u32"),
                       ("keys_repaired", "u64"), ("bytes_repaired", "u64")],
})
MESSAGES += ["Repair", "RepairResponse"]

# Keyspace (issue 11): the flush marker offered in Hello / HelloResponse and exchanged with the
# digests; FLUSHALL (FlushRequest), DBSIZE (KeyCountRequest), SCAN (ScanRequest).
SCHEMA["Hello"].append(("flush_version", "version"))
SCHEMA["HelloResponse"].append(("flush_version", "version"))
SCHEMA["DigestRequest"].append(("flush_version", "version"))
SCHEMA["DigestResponse"].append(("flush_version", "version"))
SCHEMA["Put"].append(("if_version_at_most", "version"))
SCHEMA.update({
    "FlushRequest": [("version", "version")],
    "FlushResponse": [("flush_version", "version"), ("max_hlc", "u64"), ("removed", "u64")],
    "KeyCountRequest": [],
    "KeyCountResponse": [("keys", "u64"), ("tombstones", "u64")],
    "ScanRequest": [("cursor", "u64"), ("count", "u32"), ("pattern", "bytes"), ("type", "str")],
    "ScanKey": [("key", "bytes")],
    "ScanResponse": [("cursor", "u64"), ("keys", "tables:ScanKey")],
})
MESSAGES += ["FlushRequest", "FlushResponse", "KeyCountRequest", "KeyCountResponse",
             "ScanRequest", "ScanResponse"]
# Typed values (docs/data-model.md): Get.want_typed_value, GetResponse.value_type/body_digest,
# Put.value_type (ValueType: 0 String, 1 Counter).
SCHEMA["Get"].append(("want_typed_value", "bool"))
SCHEMA["GetResponse"] += [("value_type", "u8"), ("body_digest", "u64")]
SCHEMA["Put"].append(("value_type", "u8"))


def decode_counter(body):
    """The value of a counter body (common/typed/counter.h) as an int (integer parts only)."""
    assert body[0] == 1, body[:1]
    (base_size,) = struct.unpack_from("<I", body, 1)
    base = body[5:5 + base_size]
    (count,) = struct.unpack_from("<I", body, 5 + base_size)
    at = 9 + base_size
    total = int(base) if base else 0
    for _ in range(count):
        _writer, _hlc, _vw, p, n = struct.unpack_from("<QQQQQ", body, at)
        total += p - n
        at += 40 + 32
    return total
