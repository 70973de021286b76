//! `dirsim map`: which backend each user hashes to for a given host set,
//! with no records and no simulation. Streams its input: memory does not
//! grow with the number of users.

use std::io::{self, BufRead, Write};

use crate::director::hash::HashFormat;
use crate::director::ip::HostIp;
use crate::director::print::{Header, PrintFormat, Printer};
use crate::director::{Director, HostId, Settings};

/// One `--host IP[:VHOSTS][@TAG]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostSpec {
    /// The backend IP.
    pub ip: HostIp,
    /// Vhost count (default 100).
    pub vhosts: u32,
    /// Tag (default empty).
    pub tag: String,
}

/// A `--host` value that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid host {input:?}: {reason} (expected IP[:VHOSTS][@TAG], e.g. 10.0.0.1, 10.0.0.1:50, [2001:db8::1]:50@east)"
)]
pub struct HostSpecError {
    /// The rejected text.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

impl std::str::FromStr for HostSpec {
    type Err = HostSpecError;
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |reason: String| HostSpecError {
            input: input.to_string(),
            reason,
        };
        let (rest, tag) = match input.rsplit_once('@') {
            Some((_, "")) => {
                return Err(fail(
                    "empty tag after '@': give a tag, or leave out the '@'".into(),
                ));
            }
            Some((r, t)) => (r, t.to_string()),
            None => (input, String::new()),
        };
        let (ip, vhosts) = if let Some(r) = rest.strip_prefix('[') {
            let (ip, after) = r.split_once(']').ok_or_else(|| fail("missing ']'".into()))?;
            match after {
                "" => (ip, None),
                a => (
                    ip,
                    Some(
                        a.strip_prefix(':')
                            .ok_or_else(|| fail("expected :VHOSTS after ']'".into()))?,
                    ),
                ),
            }
        } else if rest.matches(':').count() == 1 {
            let (ip, v) = rest.split_once(':').expect("one colon");
            (ip, Some(v))
        } else {
            (rest, None)
        };
        let ip = HostIp::parse(ip).map_err(|e| fail(e.to_string()))?;
        let vhosts = match vhosts {
            None => crate::director::host::DEFAULT_VHOSTS,
            Some(v) => {
                let n: u32 = v
                    .parse()
                    .map_err(|_| fail(format!("vhost count {v:?} is not a number")))?;
                if n > crate::director::host::MAX_VHOSTS {
                    return Err(fail(format!("vhost count {n} is above the maximum of 1000")));
                }
                n
            }
        };
        Ok(HostSpec { ip, vhosts, tag })
    }
}

/// Output format of `dirsim map`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapFormat {
    /// doveadm's table layout.
    Table {
        /// Terminal width.
        columns: usize,
    },
    /// doveadm's `-f tab`.
    Tab,
    /// RFC 4180 CSV with a header row.
    Csv,
}

/// What `dirsim map` needs.
#[derive(Clone, Debug)]
pub struct MapRequest {
    /// Backends.
    pub hosts: Vec<HostSpec>,
    /// Backends that are down (no ring points).
    pub down: Vec<HostIp>,
    /// The users' tag.
    pub tag: String,
    /// `director_username_hash`.
    pub username_hash: HashFormat,
    /// Output format.
    pub format: MapFormat,
}

/// Bad `dirsim map` input.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// The same IP given twice, a `--down` IP that is no host, ...
    #[error("{0}")]
    BadInput(String),
    /// Reading input or writing output failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Maps every user read from `users` (one name per line) and writes
/// `user`, `hash`, `mail server ip` rows. Returns the number of users.
pub fn run_map(req: &MapRequest, mut users: impl BufRead, out: impl Write) -> Result<u64, MapError> {
    let mut d = Director::new(
        Settings {
            username_hash: req.username_hash.clone(),
            ..Settings::default()
        },
        &[],
    );
    for h in &req.hosts {
        if d.host_id(h.ip).is_some() {
            return Err(MapError::BadInput(format!("host {} given twice", h.ip)));
        }
        d.host_set(h.ip, &h.tag, Some(h.vhosts), false);
    }
    for ip in &req.down {
        if d.host_id(*ip).is_none() {
            return Err(MapError::BadInput(format!("--down {ip}: no such --host")));
        }
        d.host_updown(*ip, true);
    }
    let ips: Vec<String> = d.all_hosts().iter().map(|h| h.ip_text().to_string()).collect();
    let ring = d.ring(&req.tag).cloned().unwrap_or_default();
    let lookup = |hash: u32| -> &str {
        ring.lookup(hash)
            .map_or("", |h: HostId| ips[h.0 as usize].as_str())
    };

    let mut sink = Sink::new(req.format, out);
    let mut line = Vec::with_capacity(64);
    let mut n = 0u64;
    let mut hash_text = itoa_buf();
    loop {
        line.clear();
        if users.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        if line.is_empty() {
            continue;
        }
        let hash = req.username_hash.hash(&line);
        let name = String::from_utf8_lossy(&line);
        sink.row(&name, fmt_u32(&mut hash_text, hash), lookup(hash))?;
        n += 1;
    }
    sink.finish()?;
    Ok(n)
}

fn itoa_buf() -> [u8; 10] {
    [0; 10]
}

fn fmt_u32(buf: &mut [u8; 10], mut v: u32) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).expect("digits")
}

enum Sink<W: Write> {
    Doveadm(Printer<W>),
    Csv(Box<csv::Writer<W>>),
}

impl<W: Write> Sink<W> {
    fn new(format: MapFormat, out: W) -> Self {
        let headers = || {
            vec![
                Header::new("user").expand(),
                Header::new("hash"),
                Header::new("mail server ip"),
            ]
        };
        match format {
            MapFormat::Table { columns } => {
                Sink::Doveadm(Printer::new(out, PrintFormat::Table { columns }, headers()))
            }
            MapFormat::Tab => Sink::Doveadm(Printer::new(out, PrintFormat::Tab, headers())),
            MapFormat::Csv => {
                let mut w = csv::Writer::from_writer(out);
                let _ = w.write_record(["user", "hash", "mail server ip"]);
                Sink::Csv(Box::new(w))
            }
        }
    }

    fn row(&mut self, user: &str, hash: &str, ip: &str) -> io::Result<()> {
        match self {
            Sink::Doveadm(p) => p.row(&[user, hash, ip]),
            Sink::Csv(w) => w.write_record([user, hash, ip]).map_err(io::Error::other),
        }
    }

    fn finish(self) -> io::Result<()> {
        match self {
            Sink::Doveadm(p) => p.finish().map(drop),
            Sink::Csv(mut w) => w.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_specs() {
        let h: HostSpec = "10.0.0.1:50@east".parse().unwrap();
        assert_eq!(
            (h.ip.to_string(), h.vhosts, h.tag.as_str()),
            ("10.0.0.1".into(), 50, "east")
        );
        let h: HostSpec = "[2001:db8::1]:7".parse().unwrap();
        assert_eq!((h.ip.to_string(), h.vhosts), ("2001:db8::1".into(), 7));
        let h: HostSpec = "2001:db8::1".parse().unwrap();
        assert_eq!(h.vhosts, 100);
        assert!("10.0.0.1:1001".parse::<HostSpec>().is_err());
        assert!("10.0.0.1:x".parse::<HostSpec>().is_err());
        assert!("nohost".parse::<HostSpec>().is_err());
    }

    #[test]
    fn maps_spec_examples() {
        let req = MapRequest {
            hosts: ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
                .iter()
                .map(|s| s.parse().unwrap())
                .collect(),
            down: vec![],
            tag: String::new(),
            username_hash: HashFormat::default(),
            format: MapFormat::Tab,
        };
        let mut out = Vec::new();
        let n = run_map(&req, &b"user1\nuser2@example.com\r\n\nuser3\n"[..], &mut out).unwrap();
        assert_eq!(n, 3);
        // spec §1 and §2.5
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "user\thash\tmail server ip\nuser1\t617210206\t10.0.0.3\n\
             user2@example.com\t2874385041\t10.0.0.3\nuser3\t2458352375\t10.0.0.2\n"
        );
    }
}
