//! Backend IP addresses with Dovecot's exact text form and ordering.
//!
//! The director places each backend on its consistent-hashing ring by hashing
//! the text `"<ip>-<i>"` (spec section 2.1), where `<ip>` is what Dovecot's
//! `net_ip2addr()` returns, i.e. glibc's `inet_ntop()`. Any difference in that
//! text moves every ring point of the host, so [`HostIp::canonical_text`]
//! reimplements glibc's `inet_ntop6()` byte for byte instead of using
//! `Ipv6Addr`'s `Display`, which differs for IPv4-compatible addresses (glibc
//! prints `::1.2.3.4` where Rust prints `::102:304`).
//!
//! Hosts are ordered like `net_ip_cmp()` (spec section 2.3): IPv4 (`AF_INET`,
//! 2) before IPv6 (`AF_INET6`, 10), then by the network-order address bytes.
//! This order breaks ties between equal ring points and sorts host listings.

use std::cmp::Ordering;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An IPv4 or IPv6 backend address, ordered and printed the way Dovecot's
/// `net_ip_cmp()` and `net_ip2addr()` (glibc `inet_ntop`) do.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct HostIp(IpAddr);

impl HostIp {
    /// Wraps an address as is; IPv4-mapped IPv6 addresses stay IPv6, as in Dovecot.
    #[must_use]
    pub fn new(ip: IpAddr) -> Self {
        Self(ip)
    }

    /// Returns the wrapped address.
    #[must_use]
    pub fn addr(&self) -> IpAddr {
        self.0
    }

    /// Parses an address literal the way Dovecot's `net_addr2ip()` is modelled
    /// here: glibc `inet_pton(AF_INET)` first, then `inet_pton(AF_INET6)`.
    ///
    /// IPv4 needs exactly four decimal parts, each `0..=255` without a sign or
    /// a leading zero (glibc rejects `010.0.0.1`). IPv6 accepts every RFC 4291
    /// text form, including `::` and a dotted IPv4 tail. An IPv6 literal may be
    /// wrapped in brackets (`[::1]`), which `net_addr2ip()` strips. (The real
    /// `net_addr2ip()` is laxer for colon-free text: its decimal fast path and
    /// `inet_aton()` fallback also take `010.0.0.1`, `10.1` or `167772161`.)
    ///
    /// # Errors
    /// [`IpParseError`] quoting `s` when it is neither kind of address.
    pub fn parse(s: &str) -> Result<Self, IpParseError> {
        let v6_text = s
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
            .unwrap_or(s);
        parse_v4(s)
            .map(IpAddr::V4)
            .or_else(|| parse_v6(v6_text).map(IpAddr::V6))
            .map(Self)
            .ok_or_else(|| IpParseError { input: s.to_owned() })
    }

    /// The text glibc's `inet_ntop()` produces; the director hashes this text
    /// for ring points, so it is byte-identical to glibc's.
    #[must_use]
    pub fn canonical_text(&self) -> String {
        self.to_string()
    }

    /// The `sa_family` value Dovecot compares first: `AF_INET` or `AF_INET6`.
    fn family(&self) -> u8 {
        match self.0 {
            IpAddr::V4(_) => 2,
            IpAddr::V6(_) => 10,
        }
    }
}

impl Ord for HostIp {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.0, other.0) {
            (IpAddr::V4(a), IpAddr::V4(b)) => a.octets().cmp(&b.octets()),
            (IpAddr::V6(a), IpAddr::V6(b)) => a.octets().cmp(&b.octets()),
            _ => self.family().cmp(&other.family()),
        }
    }
}

impl PartialOrd for HostIp {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for HostIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write_v4(f, v4.octets()),
            IpAddr::V6(v6) => write_v6(f, &v6),
        }
    }
}

impl FromStr for HostIp {
    type Err = IpParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The input was not an IPv4 or IPv6 address literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpParseError {
    /// The rejected text, exactly as given.
    pub input: String,
}

impl fmt::Display for IpParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid IP address \"{}\": expected an IPv4 address like 10.0.0.1 \
             or an IPv6 address like 2001:db8::1",
            self.input
        )
    }
}

impl std::error::Error for IpParseError {}

/// glibc `inet_pton4`: four dotted decimal parts, no leading zeros.
fn parse_v4(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = s.split('.');
    for octet in &mut octets {
        let part = parts.next()?;
        let well_formed = !part.is_empty()
            && part.bytes().all(|b| b.is_ascii_digit())
            && (part == "0" || !part.starts_with('0'));
        if !well_formed {
            return None;
        }
        *octet = part.parse().ok()?;
    }
    parts.next().is_none().then_some(Ipv4Addr::from(octets))
}

/// glibc `inet_pton6`: up to eight hex groups, at most one `::`, and an
/// optional dotted IPv4 tail standing for the last two groups.
fn parse_v6(s: &str) -> Option<Ipv6Addr> {
    let (head, tail) = s
        .split_once("::")
        .map_or((s, None), |(head, tail)| (head, Some(tail)));
    let mut words = Vec::with_capacity(8);
    // Only the text after `::` (or the whole text without one) may end in IPv4.
    parse_groups(head, tail.is_none(), &mut words)?;
    let split = words.len();
    if let Some(tail) = tail {
        parse_groups(tail, true, &mut words)?;
        if words.len() > 7 {
            return None; // `::` must stand for at least one zero group.
        }
        let zeros = 8 - words.len();
        words.splice(split..split, std::iter::repeat_n(0, zeros));
    }
    let words: [u16; 8] = words.try_into().ok()?;
    Some(Ipv6Addr::from(words))
}

/// Appends the 16-bit words of colon-separated `text` (empty text: none).
fn parse_groups(text: &str, ipv4_tail: bool, words: &mut Vec<u16>) -> Option<()> {
    if text.is_empty() {
        return Some(());
    }
    let mut groups = text.split(':').peekable();
    while let Some(group) = groups.next() {
        if ipv4_tail && groups.peek().is_none() && group.contains('.') {
            let [a, b, c, d] = parse_v4(group)?.octets();
            words.extend([u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d])]);
        } else if (1..=4).contains(&group.len()) && group.bytes().all(|b| b.is_ascii_hexdigit()) {
            words.push(u16::from_str_radix(group, 16).ok()?);
        } else {
            return None;
        }
    }
    Some(())
}

fn write_v4(f: &mut fmt::Formatter<'_>, [a, b, c, d]: [u8; 4]) -> fmt::Result {
    write!(f, "{a}.{b}.{c}.{d}")
}

/// glibc `inet_ntop6`, rule for rule.
fn write_v6(f: &mut fmt::Formatter<'_>, ip: &Ipv6Addr) -> fmt::Result {
    let words = ip.segments();
    // The longest run of zero words, the first one on ties; a lone zero stays.
    let mut run = 0..0;
    let mut i = 0;
    while i < 8 {
        let len = words[i..].iter().take_while(|&&w| w == 0).count();
        if len >= 2 && len > run.len() {
            run = i..i + len;
        }
        i += len.max(1);
    }
    for (i, word) in words.iter().enumerate() {
        if run.contains(&i) {
            if i == run.start {
                f.write_str(":")?;
            }
            continue;
        }
        if i != 0 {
            f.write_str(":")?;
        }
        // IPv4-compatible (::a.b.c.d) and IPv4-mapped (::ffff:a.b.c.d) forms.
        if i == 6 && run.start == 0 && (run.len() == 6 || (run.len() == 5 && words[5] == 0xffff)) {
            let [.., a, b, c, d] = ip.octets();
            return write_v4(f, [a, b, c, d]);
        }
        write!(f, "{word:x}")?;
    }
    if run.end == 8 {
        f.write_str(":")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> HostIp {
        HostIp::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn v6_from_hex(hex: &str) -> HostIp {
        HostIp::new(IpAddr::V6(u128::from_str_radix(hex, 16).unwrap().into()))
    }

    #[test]
    fn ipv4_text_and_numeric_order() {
        assert_eq!(ip("10.0.0.1").canonical_text(), "10.0.0.1");
        assert_eq!(ip("0.0.0.0").to_string(), "0.0.0.0");
        assert_eq!("255.255.255.255".parse::<HostIp>(), Ok(ip("255.255.255.255")));
        assert!(ip("10.0.0.2") < ip("10.0.0.10"));
        assert!(ip("9.255.255.255") < ip("10.0.0.0"));
        assert!(ip("255.255.255.255") < ip("::"));
        assert!(ip("1.2.3.4") < ip("::ffff:1.2.3.4"));
        let mut hosts = [ip("::1"), ip("10.0.0.10"), ip("1::"), ip("10.0.0.2")];
        hosts.sort();
        assert_eq!(
            hosts.map(|h| h.to_string()),
            ["10.0.0.2", "10.0.0.10", "::1", "1::"]
        );
    }

    /// Address bytes -> glibc `inet_ntop(AF_INET6)` text, from python3's `socket.inet_ntop`.
    const GLIBC_VECTORS: &[(&str, &str)] = &[
        ("00000000000000000000000000000000", "::"),
        ("00000000000000000000000000000001", "::1"),
        ("00000000000000000000000001020304", "::1.2.3.4"),
        ("00000000000000000000000000010000", "::0.1.0.0"),
        ("00000000000000000000ffff01020304", "::ffff:1.2.3.4"),
        ("00000000000000000000ffff00000000", "::ffff:0.0.0.0"),
        ("00000000000000000000ffff00000001", "::ffff:0.0.0.1"),
        ("00000000000000000000fffe01020304", "::fffe:102:304"),
        ("0000000000000000000100000a000001", "::1:0:a00:1"),
        ("0000000000000000ffff000001020304", "::ffff:0:102:304"),
        ("0000000000000000000000000000ffff", "::ffff"),
        ("00000000000000000000000100000000", "::1:0:0"),
        ("00010000000000000000000000000000", "1::"),
        ("00010000000000000000000000000001", "1::1"),
        ("00000000000000010000000000000000", "0:0:0:1::"),
        ("00010000000000020000000000000003", "1:0:0:2::3"),
        ("00010000000200000000000300000000", "1:0:2::3:0:0"),
        ("00010000000200030000000400050006", "1:0:2:3:0:4:5:6"),
        ("00000001000200030004000500060007", "0:1:2:3:4:5:6:7"),
        ("00010002000300040005000600070000", "1:2:3:4:5:6:7:0"),
        ("00000000000100000000000200030004", "::1:0:0:2:3:4"),
        ("00010000000000020000000000030004", "1::2:0:0:3:4"),
        ("00010002000000000003000000000004", "1:2::3:0:0:4"),
        ("20010db8000000010000000000000001", "2001:db8:0:1::1"),
        ("20010db8000000000001000000000001", "2001:db8::1:0:0:1"),
        ("fe800000000000000202b3fffe1e8329", "fe80::202:b3ff:fe1e:8329"),
        ("abcd00000000ef000000000000001234", "abcd:0:0:ef00::1234"),
        ("00000000000000000000000000000100", "::100"),
        ("000000000000000000000000ffffffff", "::255.255.255.255"),
        ("0000000000000000000000000a000001", "::10.0.0.1"),
    ];

    #[test]
    fn ipv6_text_matches_glibc_table() {
        for &(hex, text) in GLIBC_VECTORS {
            let addr = v6_from_hex(hex);
            assert_eq!(addr.canonical_text(), text, "bytes {hex}");
            assert_eq!(ip(text), addr, "parsing {text}");
        }
    }

    /// glibc inet_ntop texts of 200 addresses (every zero-run position and length, ties,
    /// v4-mapped/compatible look-alikes, random), space separated, from python3.
    const GLIBC_TEXTS: &str = "\
        0:1:1:ffff:100:100:100:ffff ::c:ffff:1:100:a:ffff ::100:abc:abc:ffff:6 ::2:1:1:1 \
        ::1:25ef:b ::0.1.0.1 ::ffff :: ffff:0:8f43:abc:752b:ffff:1:cd3b f::100:b:ffff:100:100 \
        a7f0::abc:100:abc:100 1::1:8:cf0d abc::1:ffff 1::db73 1:: 100:6048:0:100:1:1:1444:100 \
        b5ad:88f0::c:ffff:1:3 100:abc::a:32e8:abc 1:1::4f24:1 abc:1::1 ffff:4:: \
        abc:d:8:0:4e9:100:ffff:7d65 cae2:100:ffff::abc:988f:1 94d5:1:ffff::100:abc \
        ffff:ffff:abc::630f 100:1:100:: e817:1:1:ffff:0:c018:b:ffff ffff:100:abc:b::ffff:abc \
        1:ffff:ffff:5::1 ffff:4545:9:abc:: 1:7:abc:d2f8:212a:0:e743:100 1:100:2809:100:5::2 \
        ffff:abc:100:100:1:: 100:ffff:ffff:c:7:100:0:1 abc:ffff:100:e:100:9f19:: \
        100:100:1:ffff:3:100:a1af:0 100:1::100 abc::d ::100:7dcb:79e2:ffff ffff::1:ffff:0:0:abc \
        abc:0:abc:8:e2e1:1:0:8 ::100:100:100:1:3 8efe::9b8e:ffff ffff::1:65c4:100:1:ea48 \
        36db:7:ffff:ffff::1:100 abc::8:e9 2:1:ffff::ffff:100 7:0:1:911b:9:1:0:abc \
        abc:2548:100::abc:3:3869 0:9:1:1:1:aa37:ffff:0 abc:0:100:6cf3:0:100:963:6 1:1:a::f:100 \
        100:2ab8::100:ffff:8487:abc ffff:501f::100:1 abc::100:0:0:abc:100 \
        ffff:0:100:abc:4307:0:abc:a3e9 abc:b:4::ffff 100:d::100:9:5:100 c:100::1:abc \
        ffff:0:abc:7646:3:abc:ffff:0 b::abc:0:0:0 abc:1:100::100:0:0 3:1:0:8:100:2eb8:0:ffff \
        abc:1:2:0:1:2:0:ffff ::ffff:1:100:3 ffff::1:1 1:abc::abc:ffff abc::abc:7:a:0:0 \
        0:abc:0:ffff:abc:100:1:ffff 0:1:0:ffff:ffff:100:abc:abc abc:0:1:abc:0:ffff:abc:100 \
        b::1:100:d:ffff 100:1:ffff:3:1:abc:0:8 7a54::e ::a:abc:0:0:0 abc:abc:100::abc 1:abc:9c21:: \
        ::100:1:1:2a9 ffff:9:ffff:1:: ffff:f:1:d0aa:1:0:ffff:0 1:100:1:0:abc:100:0:8de1 \
        ::ffff:ffff:100:7 abc::e:48ab:100:1 1:ffff::27bb:a2b8:abc 87a9::fdf9 \
        1:a:1:0:ffff:2:abc:ffff ::100:0:0:0:100 ::abc:e446:d:4a00:ffff 1:ffff:0:1:abc:ffff:0:9 \
        ::1a0c:2afc:0:0:0 ffff:df94:0:6178:0:abc:703f:ffff ::ffff:0.2.1.0 abc::abc:abc:d4c7:100 \
        ::2b73:ffff:1:abc:1:abc abc:abc::abc abc::a:a2f7:ffff ::ffff:0.0.0.0 ::ffff:0.0.0.1 \
        ::ffff:0.1.0.0 ::ffff:1.2.3.4 ::ffff:255.255.255.255 ::ffff:0.0.255.255 ::ffff:192.168.0.1 \
        ::ffff:221.65.85.58 ::1 ::0.1.0.0 ::1.2.3.4 ::255.255.255.255 ::192.168.0.1 ::81.12.87.253 \
        ::fffe:0:0 ::fffe:0:1 ::fffe:1:0 ::fffe:102:304 ::fffe:ffff:ffff ::fffe:0:ffff \
        ::fffe:c0a8:1 ::fffe:859:2c12 ::1:ffff:0:0 ::1:ffff:0:1 ::1:ffff:1:0 ::1:ffff:102:304 \
        ::1:ffff:ffff:ffff ::1:ffff:0:ffff ::1:ffff:c0a8:1 ::1:ffff:f756:e075 ::ffff:0:0:0 \
        ::ffff:0:0:1 ::ffff:0:1:0 ::ffff:0:102:304 ::ffff:0:ffff:ffff ::ffff:0:0:ffff \
        ::ffff:0:c0a8:1 ::ffff:0:18dc:74d1 ::1:0:0 ::1:0:1 ::1:1:0 ::1:102:304 ::1:ffff:ffff \
        ::1:0:ffff ::1:c0a8:1 ::1:9028:16cd 0:ffff::abc:ffff:1:e26c 1:0:1:1:0:ffff:8:b752 \
        0:1:0:f79d:0:c:1:1 0:0:0:fa12:: 0:0:1::1:0 0:ffff:0:100:d:0:abc:0 abc:: 0:100:0:abc:100:: \
        ::9:6ed7:0:7:1:100 3:1:0:abc:ffff:100:100:0 100:a8c2::ffff:0:100:0 ffff:100::1:0:0 \
        abc:abc:0:abc:abc:abc:f:ffff 100:1d0a::d:ffff:4c69:1 9:1:0:ffff::100 1:1:401f::4:0:0 \
        1:100:1:7591:100:0:11b6:1 ::2:0:0:0:e 100:100:ffff:100:0:9:0:100 \
        0:ffff:abc:abc:ffff:2c14:: ffff:100:100:100:abc::ffff 5::e712 \
        5:0:100:100:100:abc:ffff:ffff 100:0:abc:ffff:: 0:0:0:ff8e:: 1:0:1:0:abc:ffff:1:1 \
        0:1:abc:ffff:100:: 1:100:1:1:100:0:ffff:0 ffff:9c91:abc::7:0 c:d:100:abc:2106:1:0:abc \
        abc:0:0:1::ffff 1:ffff:ffff:1:ffff:abc:0:100 0:9985:100:0:100:ffff:: ::58b9:0:0 \
        6068:0:100:b:1:0:abc:0 1:1:b:1:0:100:5def:0 0:100:100:0:1:64f4:ffff:0 0:23e2:: \
        c5ce:f:ffff:a:1:ffff:1:ffff faf5:ffff:1:ffff:100:2:4:100 1:abc:9::100:0:0 \
        1:100:ffff:ffff:1:f:ffff:6200 0:0:0:1:: d640:672d:100:cdca:0:a:abc:100 8:0:0:abc:a:: \
        0:a5df:100:1:7:0:e284:1 1:a244:: 2a87:c09c::e:100 3581:1:0:6:abc:9:abc:abc 0:0:ffff:0:1:: \
        0:ffff::1:0 1:abc:1:bf00:1:ffff:100:abc 55b6::1:1:abc:6:d \
        ddb7:100:49f3:5989:abc:4b6b:abc:bbe0 7:0:100:abc:abc:0:5:ffff \
        100:b78d:ffff:cb96:ffff:1:5:abc 100:abc:a041:ffff:ffff:3:abc:f40a \
        0:a:100:1:100:ffff:1:34e2 \
    ";

    #[test]
    fn ipv6_text_matches_glibc_bulk() {
        for text in GLIBC_TEXTS.split_whitespace() {
            // std's parser decodes independently of ours; formatting is ours alone.
            let addr = HostIp::new(IpAddr::V6(text.parse().unwrap()));
            assert_eq!(addr.canonical_text(), text);
            assert_eq!(ip(text), addr, "parsing {text}");
        }
    }

    #[test]
    fn parses_every_ipv6_text_form() {
        let full = ip("1:2:3:4:5:6:7:8");
        assert_eq!(ip("0001:0002:0003:0004:0005:0006:0007:0008"), full);
        assert_eq!(ip("1:2:3:4:5:6:0.7.0.8"), full);
        assert_eq!(ip("1:2:3:4:5:6:7::"), ip("1:2:3:4:5:6:7:0"));
        assert_eq!(ip("::2:3:4:5:6:7:8"), ip("0:2:3:4:5:6:7:8"));
        assert_eq!(ip("1:2:3:4:5::1.2.3.4"), ip("1:2:3:4:5:0:102:304"));
        assert_eq!(ip("ABCD::EF"), ip("abcd::ef"));
        assert_eq!(ip("[::1]"), ip("::1"));
        assert_eq!(ip("[::ffff:10.0.0.1]").to_string(), "::ffff:10.0.0.1");
    }

    #[test]
    fn rejects_what_glibc_inet_pton_rejects() {
        // '|'-separated because some cases are empty or contain spaces.
        let bad = "|10.0.0|10.0.0.256|1.2.3.4.5|host.example|2001:db8:::1|::g|010.0.0.1|00.0.0.0\
                   |+1.2.3.4|0x1.2.3.4|1.2.3.4.| 1.2.3.4|[10.0.0.1]|1:2:3:4:5:6:7:8:9|1::2::3\
                   |1:2:3:4:5:6:7::8|:1::|1::2:|:::|00001::|::+1|1:2:3:4:5:6::1.2.3.4|::1.2.3.04\
                   |1.2.3.4::|::1.2.3.4:1|[::1|::1]";
        for s in bad.split('|') {
            let err = HostIp::parse(s).expect_err(s);
            assert_eq!(err.input, s);
        }
        assert_eq!(
            HostIp::parse("::g").unwrap_err().to_string(),
            "invalid IP address \"::g\": expected an IPv4 address like 10.0.0.1 \
             or an IPv6 address like 2001:db8::1"
        );
    }

    fn any_host_ip() -> impl Strategy<Value = HostIp> {
        let word = prop_oneof![3 => Just(0u16), 1 => Just(0xffff), 2 => any::<u16>()];
        prop_oneof![
            any::<u32>().prop_map(|v| IpAddr::V4(v.into())),
            prop::array::uniform8(word).prop_map(|w| IpAddr::V6(w.into())),
        ]
        .prop_map(HostIp::new)
    }

    proptest! {
        #[test]
        fn text_round_trips(addr in any_host_ip()) {
            prop_assert_eq!(HostIp::parse(&addr.canonical_text()), Ok(addr));
        }

        #[test]
        fn order_is_family_then_bytes(a in any_host_ip(), b in any_host_ip()) {
            let key = |h: HostIp| match h.addr() {
                IpAddr::V4(v4) => (2, v4.octets().to_vec()),
                IpAddr::V6(v6) => (10, v6.octets().to_vec()),
            };
            prop_assert_eq!(a.cmp(&b), key(a).cmp(&key(b)));
        }
    }
}
