//! Backend hosts (spec §2.1, §4.5–4.8, §6): IP, tag, vhost count, up/down.

use super::TagId;
use super::hash::md5_be32;
use super::ip::HostIp;

/// The most vhosts `add`/`update` accept ("vhost count too large" above it).
pub const MAX_VHOSTS: u32 = 1000;
/// Vhosts of a host created without a count (`VHOST_MULTIPLIER`).
pub const DEFAULT_VHOSTS: u32 = 100;

/// One backend (a `struct mail_host`).
#[derive(Clone, Debug)]
pub struct Host {
    pub(crate) ip: HostIp,
    /// `inet_ntop` text, computed once: what ring points hash (spec §2.1).
    pub(crate) ip_text: Box<str>,
    pub(crate) name: Option<Box<str>>,
    pub(crate) tag: TagId,
    pub(crate) vhosts: u32,
    pub(crate) down: bool,
    pub(crate) last_updown_change: i64,
    pub(crate) user_count: u32,
    pub(crate) removed: bool,
    /// Ring points for vhost indices `0..points.len()`, grown on demand so a
    /// vhost change never rehashes the points the host already had.
    points: Vec<u32>,
}

impl Host {
    pub(crate) fn new(ip: HostIp, tag: TagId, vhosts: u32) -> Self {
        Host {
            ip,
            ip_text: ip.canonical_text().into_boxed_str(),
            name: None,
            tag,
            vhosts,
            down: false,
            last_updown_change: 0,
            user_count: 0,
            removed: false,
            points: Vec::new(),
        }
    }

    /// The backend's IP address.
    pub fn ip(&self) -> HostIp {
        self.ip
    }
    /// The IP as the director prints and hashes it.
    pub fn ip_text(&self) -> &str {
        &self.ip_text
    }
    /// The dirsim display name, if one was given (else tables show the IP).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    /// The name if set, else the IP text.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.ip_text)
    }
    /// Current vhost count (kept while the host is down).
    pub fn vhosts(&self) -> u32 {
        self.vhosts
    }
    /// Whether `doveadm director down` was run on it.
    pub fn is_down(&self) -> bool {
        self.down
    }
    /// Unix time of the last real up/down change, 0 if never.
    pub fn last_updown_change(&self) -> i64 {
        self.last_updown_change
    }
    /// Records pointing at this host: the `users` column (spec §3.5).
    pub fn user_count(&self) -> u32 {
        self.user_count
    }
    /// Whether the host has been removed (ids stay valid after removal).
    pub fn is_removed(&self) -> bool {
        self.removed
    }
    /// The host's tag.
    pub fn tag(&self) -> TagId {
        self.tag
    }
    /// Whether the host contributes ring points (spec §2.2).
    pub fn on_ring(&self) -> bool {
        !self.down && !self.removed && self.vhosts > 0
    }

    /// The ring points of the current vhost count.
    pub(crate) fn points(&mut self) -> &[u32] {
        let want = self.vhosts as usize;
        if self.points.len() < want {
            self.points.reserve(want - self.points.len());
            for i in self.points.len()..want {
                self.points.push(ring_point(&self.ip_text, i as u32));
            }
        }
        &self.points[..want]
    }
}

/// `be32(md5("<ip>-<i>"))`, the hash of vhost `i` of a host (spec §2.1).
pub fn ring_point(ip_text: &str, i: u32) -> u32 {
    let mut buf = [0u8; 64];
    let ip = ip_text.as_bytes();
    buf[..ip.len()].copy_from_slice(ip);
    let mut n = ip.len();
    buf[n] = b'-';
    n += 1;
    let mut digits = [0u8; 10];
    let mut d = 0;
    let mut v = i;
    loop {
        digits[d] = b'0' + (v % 10) as u8;
        d += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for k in (0..d).rev() {
        buf[n] = digits[k];
        n += 1;
    }
    md5_be32(&buf[..n])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_point_strings() {
        // spec §2.1: md5("10.0.0.1-0") = 3c789421..., md5("10.0.0.3-2") = 24eec83b...
        assert_eq!(ring_point("10.0.0.1", 0), 0x3c78_9421);
        assert_eq!(ring_point("10.0.0.3", 2), 0x24ee_c83b);
        assert_eq!(ring_point("10.0.0.3", 90), md5_be32(b"10.0.0.3-90"));
        assert_eq!(
            ring_point("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 999),
            md5_be32(b"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff-999")
        );
    }
}
