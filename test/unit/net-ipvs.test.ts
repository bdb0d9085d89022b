// The addon's generic-netlink IPVS encoding and decoding, byte for byte, on a host without IPVS.
//
// Every expected message below is assembled by hand from include/uapi/linux/ip_vs.h,
// linux/netlink.h and linux/genetlink.h, one field per line, never produced by the encoder under
// test. Multi-byte integers are host order (netlink is host-endian; these machines are
// little-endian) except where ip_vs.h says __be: ports, and the IPv4 persistence netmask.
//
//   nlmsghdr   u32 len, u16 type (the IPVS family id, 0x0020 in these tests), u16 flags,
//              u32 seq, u32 pid
//   genlmsghdr u8 cmd, u8 version (IPVS_GENL_VERSION 1), u16 reserved
//   nlattr     u16 len (header + payload, without padding), u16 type, payload padded to 4
//
// IPVS_CMD_*:       NEW_SERVICE 1, SET_SERVICE 2, DEL_SERVICE 3, GET_SERVICE 4, NEW_DEST 5,
//                   SET_DEST 6, DEL_DEST 7, GET_DEST 8, SET_CONFIG 12, GET_CONFIG 13,
//                   SET_INFO 14, GET_INFO 15
// IPVS_CMD_ATTR_*:  SERVICE 1, DEST 2, TIMEOUT_TCP 4, TIMEOUT_TCP_FIN 5, TIMEOUT_UDP 6
// IPVS_SVC_ATTR_*:  AF 1, PROTOCOL 2, ADDR 3, PORT 4, FWMARK 5, SCHED_NAME 6, FLAGS 7,
//                   TIMEOUT 8, NETMASK 9, STATS 10, PE_NAME 11, STATS64 12
// IPVS_DEST_ATTR_*: ADDR 1, PORT 2, FWD_METHOD 3, WEIGHT 4, U_THRESH 5, L_THRESH 6,
//                   ACTIVE_CONNS 7, INACT_CONNS 8, PERSIST_CONNS 9, STATS 10, ADDR_FAMILY 11,
//                   STATS64 12, TUN_TYPE 13, TUN_PORT 14, TUN_FLAGS 15
// IPVS_STATS_ATTR_*: CONNS 1, INPKTS 2, OUTPKTS 3, INBYTES 4, OUTBYTES 5, CPS 6, INPPS 7,
//                   OUTPPS 8, INBPS 9, OUTBPS 10
// Forwarding (IP_VS_CONN_F_*): MASQ 0, TUNNEL 2, DROUTE 3. NLA_F_NESTED = 0x8000.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IpvsOperation, ServiceKey } from '../../src/ipvs/types.ts';
import { failures, type IpvsResult } from '../../src/net/ipvs.ts';
import type { NetError } from '../../src/net/errors.ts';
import { native, type IpvsDecoded } from '../../src/net/native.ts';

const FAMILY = 0x20;

/** Hex with '#' comments and any whitespace; checks that the nlmsg_len fields tile it. */
function hexdoc(text: string): Buffer {
  const hex = text
    .split('\n')
    .map((line) => line.replace(/#.*/, ''))
    .join('')
    .replace(/\s+/g, '');
  assert.match(hex, /^([0-9a-f]{2})*$/, 'test bug: odd or non-hex golden bytes');
  const bytes = Buffer.from(hex, 'hex');
  let offset = 0;
  while (offset + 4 <= bytes.length) offset += (bytes.readUInt32LE(offset) + 3) & ~3;
  assert.equal(offset, bytes.length, 'test bug: nlmsg_len fields do not add up');
  return bytes;
}

function encode(request: Parameters<typeof native.ipvsEncode>[0], seq = 1): string {
  return native.ipvsEncode(request, seq, FAMILY).toString('hex');
}

function expectBytes(request: Parameters<typeof native.ipvsEncode>[0], golden: Buffer, seq = 1): void {
  const got = encode(request, seq);
  // Compare as spaced 4-byte words so a failure shows where the messages part.
  const words = (h: string) => h.replace(/(.{8})/g, '$1 ').trim();
  assert.equal(words(got), words(golden.toString('hex')));
  // The length field covers the whole message.
  assert.equal(golden.readUInt32LE(0), golden.length, 'test bug: nlmsg_len');
}

const TCP80: ServiceKey = { family: 4, protocol: 'TCP', address: '10.0.0.1', port: 80 };
const V6WEB: ServiceKey = { family: 6, protocol: 'TCP', address: '2001:db8::1', port: 80 };

// The service nest of TCP 10.0.0.1:80, identifying fields only: 4 + 4 x 8 bytes.
const TCP80_NEST = `
  2400 0180          # len 36, IPVS_CMD_ATTR_SERVICE | NLA_F_NESTED
    0600 0100 0200 0000  # AF: AF_INET (2), 2 bytes padding
    0600 0200 0600 0000  # PROTOCOL: IPPROTO_TCP (6)
    0800 0300 0a000001   # ADDR: 10.0.0.1 (4 bytes for IPv4)
    0600 0400 0050 0000  # PORT: 80, big-endian
`;

describe('ipvsEncode: services', () => {
  it('new service, IPv4 TCP, wrr, persistent 300 s, netmask /24', () => {
    const op: IpvsOperation = {
      op: 'addService',
      service: { key: TCP80, scheduler: 'wrr', flags: 0x1, timeout: 300, netmask: 24 },
    };
    expectBytes(
      op,
      hexdoc(`
        5c000000   # nlmsg_len 92
        2000       # nlmsg_type 0x20 (family id)
        0500       # NLM_F_REQUEST | NLM_F_ACK
        01000000   # seq 1
        00000000   # pid 0
        01 01 0000 # cmd IPVS_CMD_NEW_SERVICE, version 1
        4800 0180  # len 72, IPVS_CMD_ATTR_SERVICE | NLA_F_NESTED
          0600 0100 0200 0000       # AF: AF_INET
          0600 0200 0600 0000       # PROTOCOL: TCP
          0800 0300 0a000001        # ADDR: 10.0.0.1
          0600 0400 0050 0000       # PORT: 80 (be16)
          0800 0600 77727200        # SCHED_NAME: "wrr\\0"
          0c00 0700 01000000 ffffffff # FLAGS: struct ip_vs_flags {flags PERSISTENT, mask ~0}
          0800 0800 2c010000        # TIMEOUT: 300 s
          0800 0900 ffffff00        # NETMASK: 255.255.255.0, network order
      `),
    );
  });

  it('new service, IPv6 UDP, rr, not persistent (netmask is a plain prefix length, 128)', () => {
    const op: IpvsOperation = {
      op: 'addService',
      service: {
        key: { family: 6, protocol: 'UDP', address: '2001:db8::1', port: 53 },
        scheduler: 'rr',
        flags: 0,
        timeout: 0,
        netmask: 128,
      },
    };
    expectBytes(
      op,
      hexdoc(`
        68000000 2000 0500 01000000 00000000  # len 104, family, REQUEST|ACK, seq 1
        01 01 0000                            # IPVS_CMD_NEW_SERVICE v1
        5400 0180                             # len 84, SERVICE nest
          0600 0100 0a00 0000                 # AF: AF_INET6 (10)
          0600 0200 1100 0000                 # PROTOCOL: UDP (17)
          1400 0300 20010db8 00000000 00000000 00000001  # ADDR: 2001:db8::1
          0600 0400 0035 0000                 # PORT: 53 (be16)
          0700 0600 727200 00                 # SCHED_NAME "rr\\0" (len 7) + 1 byte padding
          0c00 0700 00000000 ffffffff         # FLAGS {0, ~0}
          0800 0800 00000000                  # TIMEOUT 0
          0800 0900 80000000                  # NETMASK: 128 as a host-order u32
      `),
    );
  });

  it('new fwmark service: no protocol, address or port; sh with sh-fallback and sh-port', () => {
    const op: IpvsOperation = {
      op: 'addService',
      service: { key: { family: 4, fwmark: 7 }, scheduler: 'sh', flags: 0x08 | 0x10, timeout: 0, netmask: 32 },
    };
    expectBytes(
      op,
      hexdoc(`
        4c000000 2000 0500 01000000 00000000  # len 76
        01 01 0000                            # IPVS_CMD_NEW_SERVICE
        3800 0180                             # len 56, SERVICE nest
          0600 0100 0200 0000                 # AF_INET
          0800 0500 07000000                  # FWMARK 7 (host order)
          0700 0600 736800 00                 # SCHED_NAME "sh\\0"
          0c00 0700 18000000 ffffffff         # FLAGS: SCHED1 (sh-fallback) | SCHED2 (sh-port)
          0800 0800 00000000                  # TIMEOUT 0
          0800 0900 ffffffff                  # NETMASK /32
      `),
    );
  });

  it('edit service: IPVS_CMD_SET_SERVICE, same layout; mh with scheduler flags 1 and 2', () => {
    const op: IpvsOperation = {
      op: 'editService',
      service: { key: TCP80, scheduler: 'mh', flags: 0x18, timeout: 0, netmask: 32 },
    };
    expectBytes(
      op,
      hexdoc(`
        5c000000 2000 0500 01000000 00000000
        02 01 0000                            # IPVS_CMD_SET_SERVICE
        4800 0180
          0600 0100 0200 0000
          0600 0200 0600 0000
          0800 0300 0a000001
          0600 0400 0050 0000
          0700 0600 6d6800 00                 # "mh\\0"
          0c00 0700 18000000 ffffffff
          0800 0800 00000000
          0800 0900 ffffffff
      `),
    );
  });

  it('delete service: the identifying attributes only', () => {
    expectBytes(
      { op: 'deleteService', key: TCP80 },
      hexdoc(`
        38000000 2000 0500 07000000 00000000  # len 56, seq 7
        03 01 0000                            # IPVS_CMD_DEL_SERVICE
        ${TCP80_NEST}
      `),
      7,
    );
  });

  it('delete fwmark service, IPv6', () => {
    expectBytes(
      { op: 'deleteService', key: { family: 6, fwmark: 0x10000 } },
      hexdoc(`
        28000000 2000 0500 01000000 00000000  # len 40
        03 01 0000
        1400 0180                             # len 20
          0600 0100 0a00 0000                 # AF_INET6
          0800 0500 00000100                  # FWMARK 65536
      `),
    );
  });
});

describe('ipvsEncode: destinations', () => {
  it('new destination, NAT, weight 1, no thresholds (ADDR_FAMILY always sent)', () => {
    const op: IpvsOperation = {
      op: 'addDestination',
      service: TCP80,
      destination: { address: '198.18.1.2', family: 4, port: 8080, forwarding: 'NAT', weight: 1, upperThreshold: 0, lowerThreshold: 0 },
    };
    expectBytes(
      op,
      hexdoc(`
        74000000 2000 0500 01000000 00000000  # len 116
        05 01 0000                            # IPVS_CMD_NEW_DEST
        ${TCP80_NEST}
        3c00 0280                             # len 60, IPVS_CMD_ATTR_DEST | NLA_F_NESTED
          0800 0100 c6120102                  # ADDR 198.18.1.2
          0600 0200 1f90 0000                 # PORT 8080 (be16)
          0600 0b00 0200 0000                 # ADDR_FAMILY AF_INET
          0800 0300 00000000                  # FWD_METHOD MASQ
          0800 0400 01000000                  # WEIGHT 1
          0800 0500 00000000                  # U_THRESH 0
          0800 0600 00000000                  # L_THRESH 0
      `),
    );
  });

  it('new destination, DR, weight 5, thresholds 100 / 10', () => {
    const op: IpvsOperation = {
      op: 'addDestination',
      service: TCP80,
      destination: { address: '198.18.1.3', family: 4, port: 80, forwarding: 'DR', weight: 5, upperThreshold: 100, lowerThreshold: 10 },
    };
    expectBytes(
      op,
      hexdoc(`
        74000000 2000 0500 01000000 00000000
        05 01 0000
        ${TCP80_NEST}
        3c00 0280
          0800 0100 c6120103                  # 198.18.1.3
          0600 0200 0050 0000                 # port 80
          0600 0b00 0200 0000
          0800 0300 03000000                  # FWD_METHOD DROUTE (3)
          0800 0400 05000000                  # WEIGHT 5
          0800 0500 64000000                  # U_THRESH 100
          0800 0600 0a000000                  # L_THRESH 10
      `),
    );
  });

  it('new destination, TUN over GUE, IPv6 service and destination', () => {
    const destination = {
      address: '2001:db8::10',
      family: 6 as const,
      port: 80,
      forwarding: 'TUN' as const,
      weight: 2,
      upperThreshold: 0,
      lowerThreshold: 0,
      tunType: 'gue',
      tunPort: 6080,
      tunFlags: 1,
    };
    expectBytes(
      { op: 'addDestination', service: V6WEB, destination },
      hexdoc(`
        a4000000 2000 0500 01000000 00000000  # len 164
        05 01 0000
        3000 0180                             # SERVICE nest, len 48
          0600 0100 0a00 0000                 # AF_INET6
          0600 0200 0600 0000                 # TCP
          1400 0300 20010db8 00000000 00000000 00000001  # 2001:db8::1
          0600 0400 0050 0000                 # 80
        6000 0280                             # DEST nest, len 96
          1400 0100 20010db8 00000000 00000000 00000010  # ADDR 2001:db8::10
          0600 0200 0050 0000                 # PORT 80
          0600 0b00 0a00 0000                 # ADDR_FAMILY AF_INET6
          0800 0300 02000000                  # FWD_METHOD TUNNEL (2)
          0800 0400 02000000                  # WEIGHT 2
          0800 0500 00000000
          0800 0600 00000000
          0500 0d00 01 000000                 # TUN_TYPE u8: GUE (1), 3 bytes padding
          0600 0e00 17c0 0000                 # TUN_PORT 6080 (be16)
          0600 0f00 0100 0000                 # TUN_FLAGS u16: CSUM
      `),
    );
  });

  it('set destination weight: IPVS_CMD_SET_DEST with the full destination', () => {
    const op: IpvsOperation = {
      op: 'editDestination',
      service: TCP80,
      destination: { address: '198.18.1.2', family: 4, port: 8080, forwarding: 'NAT', weight: 0, upperThreshold: 0, lowerThreshold: 0 },
    };
    expectBytes(
      op,
      hexdoc(`
        74000000 2000 0500 01000000 00000000
        06 01 0000                            # IPVS_CMD_SET_DEST
        ${TCP80_NEST}
        3c00 0280
          0800 0100 c6120102
          0600 0200 1f90 0000
          0600 0b00 0200 0000
          0800 0300 00000000
          0800 0400 00000000                  # WEIGHT 0 (draining)
          0800 0500 00000000
          0800 0600 00000000
      `),
    );
  });

  it('delete destination: address, port and family only', () => {
    const op: IpvsOperation = {
      op: 'deleteDestination',
      service: TCP80,
      destination: { address: '198.18.1.2', family: 4, port: 8080 },
    };
    expectBytes(
      op,
      hexdoc(`
        54000000 2000 0500 01000000 00000000  # len 84
        07 01 0000                            # IPVS_CMD_DEL_DEST
        ${TCP80_NEST}
        1c00 0280                             # DEST nest, len 28
          0800 0100 c6120102
          0600 0200 1f90 0000
          0600 0b00 0200 0000
      `),
    );
  });

  it('destination of a fwmark service', () => {
    const op: IpvsOperation = {
      op: 'addDestination',
      service: { family: 4, fwmark: 7 },
      destination: { address: '198.18.1.2', family: 4, port: 0, forwarding: 'DR', weight: 1, upperThreshold: 0, lowerThreshold: 0 },
    };
    expectBytes(
      op,
      hexdoc(`
        64000000 2000 0500 01000000 00000000  # len 100
        05 01 0000
        1400 0180                             # SERVICE nest, len 20
          0600 0100 0200 0000
          0800 0500 07000000                  # FWMARK 7
        3c00 0280
          0800 0100 c6120102
          0600 0200 0000 0000                 # port 0
          0600 0b00 0200 0000
          0800 0300 03000000                  # DR
          0800 0400 01000000
          0800 0500 00000000
          0800 0600 00000000
      `),
    );
  });
});

describe('ipvsEncode: queries and config', () => {
  it('CTRL_CMD_GETFAMILY "IPVS" goes to GENL_ID_CTRL (0x10)', () => {
    expectBytes(
      { op: 'getFamily' },
      hexdoc(`
        20000000 1000 0500 01000000 00000000  # len 32, type GENL_ID_CTRL, REQUEST|ACK
        03 01 0000                            # CTRL_CMD_GETFAMILY, version 1
        0900 0200 49505653 00 000000          # CTRL_ATTR_FAMILY_NAME "IPVS\\0" (len 9) + padding
      `),
    );
  });

  it('service dump: NLM_F_DUMP, no ack requested', () => {
    expectBytes(
      { op: 'dumpServices' },
      hexdoc(`
        14000000 2000 0103 01000000 00000000  # len 20, NLM_F_REQUEST | NLM_F_DUMP (0x300)
        04 01 0000                            # IPVS_CMD_GET_SERVICE
      `),
    );
  });

  it('destination dump names its service', () => {
    expectBytes(
      { op: 'dumpDestinations', service: TCP80 },
      hexdoc(`
        38000000 2000 0103 01000000 00000000  # len 56
        08 01 0000                            # IPVS_CMD_GET_DEST
        ${TCP80_NEST}
      `),
    );
  });

  it('info and config requests', () => {
    expectBytes({ op: 'getInfo' }, hexdoc(`14000000 2000 0500 01000000 00000000  0f 01 0000  # GET_INFO (15)`));
    expectBytes({ op: 'getConfig' }, hexdoc(`14000000 2000 0500 01000000 00000000  0d 01 0000  # GET_CONFIG (13)`));
  });

  it('set config: only the timeouts given', () => {
    expectBytes(
      { op: 'setConfig', timeouts: { tcp: 900, udp: 300 } },
      hexdoc(`
        24000000 2000 0500 01000000 00000000  # len 36
        0c 01 0000                            # IPVS_CMD_SET_CONFIG (12)
        0800 0400 84030000                    # TIMEOUT_TCP 900
        0800 0600 2c010000                    # TIMEOUT_UDP 300
      `),
    );
  });
});

describe('ipvsEncode: arguments', () => {
  const svc = { key: TCP80, scheduler: 'rr', flags: 0, timeout: 0, netmask: 32 };
  const dest = { address: '198.18.1.2', family: 4 as const, port: 80, forwarding: 'NAT' as const, weight: 1, upperThreshold: 0, lowerThreshold: 0 };
  const cases: [string, unknown, RegExp][] = [
    ['unknown op', { op: 'flush' }, /request\.op must be one of "addService"/],
    ['HASHED flag', { op: 'addService', service: { ...svc, flags: 0x2 } }, /service\.flags must be IP_VS_SVC_F_\* bits/],
    ['IPv6 netmask 0', { op: 'addService', service: { ...svc, key: V6WEB, netmask: 0 } }, /service\.netmask must be an integer from 1 to 128, got 0/],
    ['IPv4 netmask 33', { op: 'addService', service: { ...svc, netmask: 33 } }, /service\.netmask must be an integer from 0 to 32, got 33/],
    ['long scheduler', { op: 'addService', service: { ...svc, scheduler: 'a'.repeat(16) } }, /service\.scheduler must be a scheduler name of 1 to 15/],
    ['family mismatch', { op: 'deleteService', key: { ...TCP80, family: 6 } }, /key\.address must be an IPv6 address string \(family 6\), got "10\.0\.0\.1"/],
    ['fwmark with port', { op: 'deleteService', key: { family: 4, fwmark: 1, port: 80 } }, /key\.port must be absent on a fwmark service/],
    ['fwmark 0', { op: 'deleteService', key: { family: 4, fwmark: 0 } }, /key\.fwmark must be an integer from 1/],
    ['ICMP', { op: 'deleteService', key: { ...TCP80, protocol: 'ICMP' } }, /key\.protocol must be "TCP", "UDP" or "SCTP"/],
    ['port 65536', { op: 'deleteService', key: { ...TCP80, port: 65536 } }, /key\.port must be an integer from 0 to 65535/],
    ['negative weight', { op: 'addDestination', service: TCP80, destination: { ...dest, weight: -1 } }, /destination\.weight must be an integer from 0 to 2147483647, got -1/],
    ['threshold above INT_MAX', { op: 'addDestination', service: TCP80, destination: { ...dest, upperThreshold: 2 ** 31 } }, /destination\.upperThreshold must be an integer from 0 to 2147483647, got 2147483648/],
    ['forwarding', { op: 'addDestination', service: TCP80, destination: { ...dest, forwarding: 'LOCAL' } }, /destination\.forwarding must be "NAT", "DR" or "TUN", got "LOCAL"/],
    ['tunType', { op: 'addDestination', service: TCP80, destination: { ...dest, tunType: 'vxlan' } }, /destination\.tunType must be "ipip", "gue" or "gre"/],
  ];
  for (const [name, request, message] of cases) {
    it(`rejects ${name} with a TypeError naming the field`, () => {
      assert.throws(
        () => native.ipvsEncode(request as IpvsOperation, 1, FAMILY),
        (err: Error & { code?: string }) => {
          assert.ok(err instanceof TypeError);
          assert.equal(err.code, 'ERR_INVALID_ARG_VALUE');
          assert.match(err.message, message);
          return true;
        },
      );
    });
  }
});

// What the kernel sends back, hand-assembled the way ip_vs_genl_fill_service / _fill_dest /
// _fill_stats(64) write it: nests without NLA_F_NESTED, 16-byte addresses (union nf_inet_addr),
// flags with IP_VS_SVC_F_HASHED set, u64 counters in STATS64.
const SERVICE_REPLY = `
  b8000000 2000 0200 09000000 d2040000  # len 184, NLM_F_MULTI, seq 9, pid 1234
  01 01 0000                            # IPVS_CMD_NEW_SERVICE
  a400 0100                             # len 164, IPVS_CMD_ATTR_SERVICE (no NLA_F_NESTED)
    0600 0100 0200 0000                 # AF_INET
    0600 0200 0600 0000                 # TCP
    1400 0300 0a000001 00000000 00000000 00000000  # ADDR 10.0.0.1, padded to 16 bytes
    0600 0400 0050 0000                 # PORT 80
    0800 0600 77727200                  # "wrr"
    0c00 0700 03000000 ffffffff         # FLAGS PERSISTENT | HASHED
    0800 0800 2c010000                  # TIMEOUT 300
    0800 0900 ffffff00                  # NETMASK /24
    1c00 0a00                           # STATS (u32 counters, ignored when STATS64 is there)
      0800 0100 01000000
      0800 0200 01000000
      0800 0300 01000000
    3400 0c00                           # STATS64, len 52
      0c00 0100 05000000 00000000       # CONNS 5
      0c00 0200 0a000000 00000000       # INPKTS 10
      0c00 0300 08000000 00000000       # OUTPKTS 8
      0c00 0400 00000000 01000000       # INBYTES 2^32 (beyond u32)
`;

const FWMARK6_REPLY = `
  4c000000 2000 0200 09000000 d2040000  # len 76
  01 01 0000
  3800 0100                             # len 56
    0600 0100 0a00 0000                 # AF_INET6
    0800 0500 07000000                  # FWMARK 7
    0700 0600 736800 00                 # "sh"
    0c00 0700 1a000000 ffffffff         # FLAGS HASHED | SCHED1 | SCHED2
    0800 0800 00000000
    0800 0900 40000000                  # NETMASK: prefix 64
`;

const DEST_REPLY = `
  a0000000 2000 0200 0a000000 d2040000  # len 160
  05 01 0000                            # IPVS_CMD_NEW_DEST
  8c00 0200                             # len 140, IPVS_CMD_ATTR_DEST
    1400 0100 c6120102 00000000 00000000 00000000  # ADDR 198.18.1.2
    0600 0200 1f90 0000                 # PORT 8080
    0800 0300 03000000                  # FWD_METHOD DROUTE
    0800 0400 05000000                  # WEIGHT 5
    0500 0d00 00 000000                 # TUN_TYPE IPIP (not reported for DR)
    0600 0e00 0000 0000                 # TUN_PORT
    0600 0f00 0000 0000                 # TUN_FLAGS
    0800 0500 64000000                  # U_THRESH 100
    0800 0600 0a000000                  # L_THRESH 10
    0800 0700 03000000                  # ACTIVE_CONNS 3
    0800 0800 04000000                  # INACT_CONNS 4
    0800 0900 02000000                  # PERSIST_CONNS 2
    0600 0b00 0200 0000                 # ADDR_FAMILY AF_INET
    1400 0a00                           # STATS (32-bit only: an older kernel)
      0800 0100 07000000                # CONNS 7
      0800 0500 e8030000                # OUTBYTES 1000
`;

const DONE = `
  14000000 0300 0200 09000000 d2040000  # NLMSG_DONE, NLM_F_MULTI
  00000000                              # status 0
`;

describe('ipvsDecode', () => {
  it('a service dump reply: two services and NLMSG_DONE in one datagram', () => {
    const msgs = native.ipvsDecode(hexdoc(SERVICE_REPLY + FWMARK6_REPLY + DONE));
    assert.equal(msgs.length, 3);
    const [tcp, fwm, done] = msgs as [IpvsDecoded, IpvsDecoded, IpvsDecoded];
    assert.equal(tcp.kind, 'service');
    assert.equal(tcp.seq, 9);
    assert.deepEqual(tcp.service, {
      key: { family: 4, protocol: 'TCP', address: '10.0.0.1', port: 80 },
      scheduler: 'wrr',
      flags: 0x1, // HASHED dropped
      timeout: 300,
      netmask: 24,
      stats: { conns: 5, inPkts: 10, outPkts: 8, inBytes: 2 ** 32, outBytes: 0, cps: 0, inPps: 0, outPps: 0, inBps: 0, outBps: 0 },
    });
    assert.equal(fwm.kind, 'service');
    assert.deepEqual(fwm.service?.key, { family: 6, fwmark: 7 });
    assert.equal(fwm.service?.flags, 0x18);
    assert.equal(fwm.service?.netmask, 64);
    assert.deepEqual({ kind: done.kind, status: done.status }, { kind: 'done', status: 0 });
  });

  it('a destination dump reply, with connection counts and 32-bit stats', () => {
    const [msg] = native.ipvsDecode(hexdoc(DEST_REPLY));
    assert.equal(msg?.kind, 'destination');
    assert.deepEqual(msg?.destination, {
      address: '198.18.1.2',
      family: 4,
      port: 8080,
      forwarding: 'DR',
      weight: 5,
      upperThreshold: 100,
      lowerThreshold: 10,
      activeConns: 3,
      inactiveConns: 4,
      persistConns: 2,
      stats: { conns: 7, inPkts: 0, outPkts: 0, inBytes: 0, outBytes: 1000, cps: 0, inPps: 0, outPps: 0, inBps: 0, outBps: 0 },
    });
  });

  it('a TUN destination reports its encapsulation; without ADDR_FAMILY the service family applies', () => {
    const bytes = hexdoc(`
      54000000 2000 0200 0a000000 00000000  # len 84
      05 01 0000
      4000 0200                             # DEST, len 64
        1400 0100 20010db8 00000000 00000000 00000010  # ADDR 2001:db8::10
        0600 0200 0050 0000
        0800 0300 02000000                  # TUNNEL
        0800 0400 01000000
        0500 0d00 02 000000                 # TUN_TYPE GRE
        0600 0e00 0000 0000
    `);
    const [msg] = native.ipvsDecode(bytes, 6);
    assert.equal(msg?.destination?.address, '2001:db8::10');
    assert.equal(msg?.destination?.family, 6);
    assert.equal(msg?.destination?.forwarding, 'TUN');
    assert.equal(msg?.destination?.tunType, 'gre');
    assert.equal(msg?.destination?.tunPort, 0);
  });

  it('acks and errors (capped, with the extended-ack message)', () => {
    const bytes = hexdoc(`
      24000000 0200 0001 03000000 d2040000  # len 36, NLMSG_ERROR, NLM_F_CAPPED
      00000000                              # error 0: an ack
      74000000 2000 0500 03000000 00000000  # the request's header, echoed
      2c000000 0200 0003 04000000 d2040000  # len 44, NLMSG_ERROR, CAPPED | ACK_TLVS
      efffffff                              # error -17 (EEXIST)
      74000000 2000 0500 04000000 00000000
      0800 0100 62616400                    # NLMSGERR_ATTR_MSG "bad"
    `);
    const msgs = native.ipvsDecode(bytes);
    assert.deepEqual(
      msgs.map((m) => [m.kind, m.seq, m.errno, m.message]),
      [
        ['ack', 3, 0, undefined],
        ['error', 4, 17, 'bad'],
      ],
    );
  });

  it('the controller names the family id', () => {
    const bytes = hexdoc(`
      30000000 1000 0000 01000000 d2040000  # len 48, GENL_ID_CTRL
      01 02 0000                            # CTRL_CMD_NEWFAMILY, version 2
      0600 0100 1c00 0000                   # CTRL_ATTR_FAMILY_ID 0x1c
      0900 0200 49505653 00 000000          # CTRL_ATTR_FAMILY_NAME "IPVS"
      0800 0300 01000000                    # CTRL_ATTR_VERSION 1
    `);
    const [msg] = native.ipvsDecode(bytes);
    assert.equal(msg?.kind, 'family');
    assert.equal(msg?.familyId, 0x1c);
  });

  it('info and config replies', () => {
    const bytes = hexdoc(`
      24000000 2000 0000 05000000 d2040000  # len 36
      0e 01 0000                            # IPVS_CMD_SET_INFO (the answer to GET_INFO)
      0800 0100 01020100                    # IPVS_INFO_ATTR_VERSION 0x010201
      0800 0200 00100000                    # IPVS_INFO_ATTR_CONN_TAB_SIZE 4096
      2c000000 2000 0000 06000000 d2040000  # len 44
      0c 01 0000                            # IPVS_CMD_SET_CONFIG (the answer to GET_CONFIG)
      0800 0400 84030000                    # TIMEOUT_TCP 900
      0800 0500 78000000                    # TIMEOUT_TCP_FIN 120
      0800 0600 2c010000                    # TIMEOUT_UDP 300
    `);
    const [info, config] = native.ipvsDecode(bytes);
    assert.deepEqual(info?.info, { version: '1.2.1', versionCode: 0x010201, connTableSize: 4096 });
    assert.deepEqual(config?.timeouts, { tcp: 900, tcpFin: 120, udp: 300 });
  });

  it('never throws on garbage: truncated messages end the walk, malformed ones are "other"', () => {
    assert.deepEqual(native.ipvsDecode(Buffer.alloc(3)), []);
    // A NEW_SERVICE without AF.
    const msgs = native.ipvsDecode(hexdoc(`1c000000 2000 0000 01000000 00000000 01 01 0000 0800 0100 0600 0200`));
    assert.equal(msgs[0]?.kind, 'other');
    // An unaligned Buffer slice decodes the same.
    const padded = Buffer.concat([Buffer.alloc(1), hexdoc(DEST_REPLY)]).subarray(1);
    assert.equal(native.ipvsDecode(padded)[0]?.destination?.address, '198.18.1.2');
  });

  it('round trip over every prefix length and key kind (consistency on top of the golden bytes)', () => {
    // A NEW_SERVICE request carries the same nest as the dump answer, so the decoder reads it.
    const keys: ServiceKey[] = [TCP80, V6WEB, { family: 4, fwmark: 0xffffffff }, { family: 6, fwmark: 1 }];
    for (const key of keys) {
      const [min, max] = key.family === 4 ? [0, 32] : [1, 128];
      for (let netmask = min; netmask <= max; netmask++) {
        const service = { key, scheduler: 'lblcr', flags: 0x3d, timeout: 0xffffffff, netmask };
        const [msg] = native.ipvsDecode(native.ipvsEncode({ op: 'addService', service }, 1, FAMILY));
        assert.ok(msg?.service);
        assert.deepEqual({ ...msg.service, stats: undefined }, { ...service, stats: undefined });
      }
    }
  });
});

describe('failures()', () => {
  it('pairs each failed result with its operation', () => {
    const ops: IpvsOperation[] = [
      { op: 'deleteService', key: TCP80 },
      { op: 'deleteService', key: V6WEB },
      { op: 'deleteService', key: { family: 4, fwmark: 1 } },
    ];
    const error: NetError = Object.assign(new Error('IPVS_CMD_DEL_SERVICE TCP [2001:db8::1]:80: No such process'), {
      errno: 3,
      code: 'ESRCH',
      syscall: 'IPVS_CMD_DEL_SERVICE',
    });
    const results: IpvsResult[] = [{ ok: true }, { ok: false, error }, { ok: true }];
    assert.deepEqual(failures(ops, results), [{ op: ops[1], error }]);
  });
});
