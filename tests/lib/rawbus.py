# SPDX-License-Identifier: LGPL-2.1-or-later
# A raw D-Bus client: writes the wire format itself, so that it can send what no library would
# (invalid UTF-8, embedded NULs, broken signatures, fds where none belong, oversized messages).
# Usage: rawbus.py SOCKET CASE [ARG]; prints what came back: "reply", "error NAME",
# "disconnected" or "no-reply".
import os
import socket
import struct
import sys
import time

DEST = 'org.berth.machine1'
MGR = '/org/berth/machine1'
IFACE = 'org.berth.machine1.Manager'
ALIGN = {'y': 1, 'b': 4, 'i': 4, 'u': 4, 'h': 4, 't': 8, 's': 4, 'o': 4, 'g': 1, 'a': 4,
         '(': 8, 'v': 1}


def complete(sig, i):
    """End index of the single complete type starting at sig[i]."""
    c = sig[i]
    if c == 'a':
        return complete(sig, i + 1)
    if c == '(':
        i += 1
        while sig[i] != ')':
            i = complete(sig, i)
        return i + 1
    return i + 1


class Writer:
    def __init__(self):
        self.b = bytearray()

    def pad(self, n):
        self.b += b'\0' * (-len(self.b) % n)

    def put(self, sig, v):
        c = sig[0]
        self.pad(ALIGN[c])
        if c == 'y':
            self.b += struct.pack('<B', v)
        elif c in 'bu' or c == 'h':
            self.b += struct.pack('<I', v)
        elif c == 'i':
            self.b += struct.pack('<i', v)
        elif c == 't':
            self.b += struct.pack('<Q', v)
        elif c in 'so':
            v = v if isinstance(v, bytes) else v.encode()
            self.b += struct.pack('<I', len(v)) + v + b'\0'
        elif c == 'g':
            v = v if isinstance(v, bytes) else v.encode()
            self.b += struct.pack('<B', len(v)) + v + b'\0'
        elif c == 'v':
            vsig, val = v
            self.put('g', vsig)
            self.put(vsig, val)
        elif c == '(':
            i = 1
            for x in v:
                j = complete(sig, i)
                self.put(sig[i:j], x)
                i = j
        elif c == 'a':
            elem = sig[1:complete(sig, 1)]
            if elem == 'y' and isinstance(v, (bytes, bytearray)):
                self.b += struct.pack('<I', len(v)) + v
                return
            at = len(self.b)
            self.b += b'\0\0\0\0'
            self.pad(ALIGN[elem[0]])
            start = len(self.b)
            for x in v:
                self.put(elem, x)
            struct.pack_into('<I', self.b, at, len(self.b) - start)

    def put_all(self, sig, values):
        i = 0
        for v in values:
            j = complete(sig, i)
            self.put(sig[i:j], v)
            i = j


class Conn:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.serial = 0
        self.inbuf = b''
        self.s.sendall(b'\0AUTH EXTERNAL ' + str(os.getuid()).encode().hex().encode() + b'\r\n')
        assert self.line().startswith(b'OK')
        self.s.sendall(b'NEGOTIATE_UNIX_FD\r\n')
        assert self.line().startswith(b'AGREE_UNIX_FD')
        self.s.sendall(b'BEGIN\r\n')
        r = self.call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'Hello')
        if r != 'reply':
            raise EOFError(r)

    def line(self):
        while b'\r\n' not in self.inbuf:
            d = self.s.recv(4096)
            if not d:
                raise EOFError
            self.inbuf += d
        line, self.inbuf = self.inbuf.split(b'\r\n', 1)
        return line

    def send(self, dest, path, iface, member, sig='', values=(), fds=(), body=None,
             sig_field=None):
        self.serial += 1
        w = Writer()
        w.put_all(sig, values)
        body = bytes(w.b) if body is None else body
        fields = [(1, ('o', path)), (3, ('s', member)), (6, ('s', dest))]
        if iface:
            fields.append((2, ('s', iface)))
        if sig_field is not None or sig:
            fields.append((8, ('g', sig if sig_field is None else sig_field)))
        if fds:
            fields.append((9, ('u', len(fds))))
        h = Writer()
        h.b += struct.pack('<cBBBII', b'l', 1, 0, 1, len(body), self.serial)
        h.put('a(yv)', fields)
        h.pad(8)
        msg = bytes(h.b) + body
        anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack('%di' % len(fds), *fds))] if fds else []
        sent = self.s.sendmsg([msg[:65536]], anc)
        if sent < len(msg):
            self.s.sendall(msg[sent:])
        return self.serial

    def read_message(self):
        while True:
            if len(self.inbuf) >= 16:
                blen, flen = struct.unpack_from('<I', self.inbuf, 4)[0], struct.unpack_from('<I', self.inbuf, 12)[0]
                hlen = 16 + flen + (-(16 + flen) % 8)
                if len(self.inbuf) >= hlen + blen:
                    msg, self.inbuf = self.inbuf[:hlen + blen], self.inbuf[hlen + blen:]
                    return msg, hlen
            d = self.s.recv(1 << 20)
            if not d:
                raise EOFError
            self.inbuf += d

    def wait_reply(self, serial):
        while True:
            msg, hlen = self.read_message()
            mtype = msg[1]
            fields, off = {}, 16
            while off < hlen:
                off += -off % 8
                if off >= hlen or msg[off] == 0:
                    break
                code, slen = msg[off], msg[off + 1]
                vsig = msg[off + 2:off + 2 + slen].decode()
                off += 3 + slen
                if vsig in ('s', 'o'):
                    off += -off % 4
                    n = struct.unpack_from('<I', msg, off)[0]
                    fields[code] = msg[off + 4:off + 4 + n].decode()
                    off += 5 + n
                elif vsig == 'g':
                    n = msg[off]
                    fields[code] = msg[off + 1:off + 1 + n].decode()
                    off += 2 + n
                else:
                    off += -off % 4
                    fields[code] = struct.unpack_from('<I', msg, off)[0]
                    off += 4
            if mtype in (2, 3) and fields.get(5) == serial:
                return 'reply' if mtype == 2 else 'error ' + fields.get(4, '?')

    def call(self, dest, path, iface, member, **kw):
        return self.wait_reply(self.send(dest, path, iface, member, **kw))


def outcome(conn, timeout, fn):
    conn.s.settimeout(timeout)
    try:
        return fn()
    except (EOFError, ConnectionResetError, BrokenPipeError):
        return 'disconnected'
    except socket.timeout:
        return 'no-reply'


def fd_of(kind):
    if kind == 'file':
        return os.open('/etc/hostname', os.O_RDONLY)
    if kind == 'socket':
        return socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).detach()
    if kind == 'opath':
        return os.open('/', os.O_PATH)
    raise ValueError(kind)


def main():
    path, case = sys.argv[1], sys.argv[2]
    arg = sys.argv[3] if len(sys.argv) > 3 else ''
    c = Conn(path)
    mgr = lambda member, **kw: lambda: c.call(DEST, MGR, IFACE, member, **kw)

    if case == 'invalid-utf8':
        r = outcome(c, 10, mgr('GetMachine', sig='s', values=[b'a\xff\xfeb']))
    elif case == 'embedded-nul':
        r = outcome(c, 10, mgr('GetMachine', sig='s', values=[b'ab\0cd']))
    elif case == 'bad-signature':
        r = outcome(c, 10, mgr('GetMachine', sig_field='(s', body=struct.pack('<I', 1) + b'a\0'))
    elif case == 'short-body':
        r = outcome(c, 10, mgr('GetMachine', sig_field='s', body=struct.pack('<I', 100) + b'a\0'))
    elif case == 'wrong-signature':
        # Well-formed, but not what the method takes: sd-bus's own check, not the bus's.
        r = outcome(c, 10, mgr('GetMachine', sig='u', values=[7]))
    elif case == 'fd-for-pid':
        # A descriptor where a PID is expected.
        r = outcome(c, 10, mgr('GetMachineByPID', sig='h', values=[0], fds=[fd_of(arg)]))
    elif case == 'fds':
        # ARG descriptors riding along with a call that takes none, COUNT times.
        n, count = (int(x) for x in arg.split(','))
        fds = [os.open('/dev/null', os.O_RDONLY) for _ in range(n)]
        r = ''
        for _ in range(count):
            r = outcome(c, 10, mgr('ListMachines', fds=fds))
            if r != 'reply':
                break
    elif case == 'huge-string':
        r = outcome(c, 30, mgr('GetMachine', sig='s', values=['a' * (30 << 20)]))
    elif case == 'huge-path':
        r = outcome(c, 10, lambda: c.call(DEST, '/org/berth/machine1/machine/' + 'a' * (30 << 20),
                                          'org.freedesktop.DBus.Properties', 'Get', sig='ss',
                                          values=['org.berth.machine1.Machine', 'Name']))
    elif case == 'huge-id':
        r = outcome(c, 30, mgr('CreateMachine', sig='sayssusa(sv)',
                               values=['huge', b'\1' * 1000000, '', 'container', int(arg), '', []]))
    elif case == 'huge-properties':
        # Marshalled once and repeated: every element is the same, 8-aligned (the last unpadded).
        w, e = Writer(), Writer()
        w.put_all('sayssus', ['huge', b'', '', 'container', int(arg), ''])
        w.pad(4)
        e.put('(sv)', ('Description', ('s', 'x')))
        used = len(e.b)
        e.pad(8)
        at = len(w.b)
        w.b += b'\0\0\0\0'
        w.pad(8)
        w.b += (bytes(e.b) * 1000000)[:len(e.b) * 999999 + used]
        struct.pack_into('<I', w.b, at, len(e.b) * 999999 + used)
        r = outcome(c, 30, mgr('CreateMachine', sig_field='sayssusa(sv)', body=bytes(w.b)))
    elif case == 'huge-strv':
        r = outcome(c, 30, mgr('ListMachines', sig='as', values=[['x'] * 1000000]))
    elif case == 'too-big':
        r = outcome(c, 30, mgr('GetMachine', sig='s', values=['a' * (33 << 20)]))
    elif case == 'exec':
        # ExecInMachine(NAME, USER, [ARGS...], [], CWD, /dev/null x3), COUNT times:
        # ARG is "COUNT NAME USER CWD PROGRAM [ARG...]" split on blanks.
        count, name, user, cwd, *argv = arg.split(' ')
        cwd = '' if cwd == '-' else cwd
        user = '' if user == '-' else user
        r = ''
        for _ in range(int(count)):
            fds = [os.open('/dev/null', os.O_RDWR) for _ in range(3)]
            r = outcome(c, 30, mgr('ExecInMachine', sig='ssasasshhh',
                                   values=[name, user, argv, [], cwd, 0, 1, 2], fds=fds))
            for fd in fds:
                os.close(fd)
    elif case == 'connections':
        # Opens ARG more connections and holds them until killed; prints how many were accepted.
        conns, n = [c], 1
        for _ in range(int(arg) - 1):
            try:
                conns.append(Conn(path))
                n += 1
            except (EOFError, AssertionError, OSError):
                pass
        print(n, flush=True)
        time.sleep(600)
        return 0
    else:
        print('unknown case', case, file=sys.stderr)
        return 2
    print(r)
    return 0


if __name__ == '__main__':
    sys.exit(main())
