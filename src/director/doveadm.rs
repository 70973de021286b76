//! Parsing `doveadm director ...` command lines (spec §4), as an admin would
//! type them. The `doveadm director` prefix is optional; doveadm's global
//! `-f tab|table|json` option may come first. Hosts stay unresolved references
//! (an IP or a name) for the caller to look up.

use std::fmt;

/// How `status`/`map` output is formatted (`doveadm -f ...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// The default table formatter.
    Table,
    /// `-f tab`.
    Tab,
    /// `-f json`: one JSON array of objects, all values strings.
    Json,
}

/// A host as written on the command line: an IP or a dirsim name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostRef(pub String);

impl fmt::Display for HostRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What `flush` applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlushTarget {
    /// `flush all`.
    All,
    /// One host.
    Host(HostRef),
}

/// `map`'s modes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapMode {
    /// All records, or one host's.
    Records(Option<HostRef>),
    /// `-u <name>`: print the name's hash.
    UserHash(String),
    /// `-h <hash>`: print the names with that hash.
    HashNames(u32),
}

/// One doveadm director command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `status [<user> [<tag>]]`.
    Status {
        /// Look up one user (name, or a hash if all digits).
        user: Option<String>,
        /// The user's tag.
        tag: Option<String>,
    },
    /// `map [-f users_file] [-h|-u] [<host>]`.
    Map {
        /// Names to show, one per line.
        users_file: Option<String>,
        /// What to print.
        mode: MapMode,
    },
    /// `add [-t tag] <host>[@tag] [<vhosts>]`; dirsim also accepts
    /// `NAME=IP` to name the host.
    Add {
        /// The host.
        host: HostRef,
        /// Its tag, if given.
        tag: Option<String>,
        /// Its vhost count, if given.
        vhosts: Option<u32>,
        /// Display name from `NAME=IP`.
        name: Option<String>,
    },
    /// `update <host> <vhosts>`.
    Update {
        /// The host.
        host: HostRef,
        /// New vhost count.
        vhosts: u32,
    },
    /// `up <host>`.
    Up(HostRef),
    /// `down <host>`.
    Down(HostRef),
    /// `remove <host>`.
    Remove(HostRef),
    /// `flush [-F] [--max-parallel N] <host>|all`.
    Flush {
        /// Host or all.
        target: FlushTarget,
        /// `-F`: drop records without moving or kicking.
        force: bool,
        /// `--max-parallel N` (0 means the default).
        max_parallel: Option<u32>,
    },
    /// `move <user> <host>`.
    Move {
        /// Login name.
        user: String,
        /// Destination.
        host: HostRef,
    },
    /// `kick <user>`.
    Kick {
        /// Login name.
        user: String,
    },
    /// `dump`.
    Dump,
}

/// A parsed line: the command and doveadm's `-f` option.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    /// `-f tab|table|json`, if given.
    pub format: Option<OutputFormat>,
    /// The command.
    pub command: Command,
}

/// A line that is not a valid doveadm director command.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// What is wrong and what was expected.
    pub message: String,
}

fn err<T>(message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        message: message.into(),
    })
}

/// The accepted commands, for error messages.
pub const USAGE: &str = "status [<user> [<tag>]] | map [-f FILE] [-h HASH|-u USER|<host>] | \
add [-t TAG] <host>[@TAG] [<vhosts>] | update <host> <vhosts> | up <host> | down <host> | \
remove <host> | flush [-F] [--max-parallel N] <host>|all | move <user> <host> | kick <user> | dump";

/// Splits a line into words; single and double quotes group words.
pub fn split_words(line: &str) -> Result<Vec<String>, ParseError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            None => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return err(format!("unterminated quote in {line:?}"));
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

fn parse_format(v: Option<&String>) -> Result<OutputFormat, ParseError> {
    match v.map(String::as_str) {
        Some("tab") => Ok(OutputFormat::Tab),
        Some("table") => Ok(OutputFormat::Table),
        Some("json") => Ok(OutputFormat::Json),
        Some(other) => err(format!(
            "unsupported output format {other:?}: expected -f tab, -f table or -f json"
        )),
        None => err("-f needs a formatter: tab, table or json"),
    }
}

fn parse_u32(what: &str, v: &str) -> Result<u32, ParseError> {
    // str_to_uint: decimal digits only.
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return err(format!("invalid {what} {v:?}: expected a non-negative integer"));
    }
    v.parse()
        .or_else(|_| err(format!("invalid {what} {v:?}: too large")))
}

/// Parses one command line (the `doveadm director` prefix optional).
pub fn parse_line(line: &str) -> Result<Invocation, ParseError> {
    let words = split_words(line)?;
    parse_words(&words)
}

/// Parses a command already split into words.
pub fn parse_words(words: &[String]) -> Result<Invocation, ParseError> {
    let mut i = 0;
    let mut format = None;
    // [doveadm [global options]] [director]
    if words.first().map(String::as_str) == Some("doveadm") {
        i += 1;
    }
    while let Some(w) = words.get(i) {
        match w.as_str() {
            "-f" => {
                format = Some(parse_format(words.get(i + 1))?);
                i += 2;
            }
            w if w.starts_with("-f") && w.len() > 2 => {
                format = Some(parse_format(Some(&w[2..].to_string()))?);
                i += 1;
            }
            "-v" | "-D" => i += 1,
            _ => break,
        }
    }
    if words.get(i).map(String::as_str) == Some("director") {
        i += 1;
    }
    let Some(cmd) = words.get(i) else {
        return err(format!("missing command: expected one of {USAGE}"));
    };
    let args = &words[i + 1..];
    let command = parse_command(cmd, args)?;
    Ok(Invocation { format, command })
}

/// Options of one command: (flag, takes a value).
struct Opts<'a> {
    flags: Vec<(&'a str, Option<&'a str>)>,
    rest: Vec<&'a str>,
}

fn getopt<'a>(cmd: &str, args: &'a [String], spec: &[(&'a str, bool)]) -> Result<Opts<'a>, ParseError> {
    let mut flags = Vec::new();
    let mut rest = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a.starts_with('-') && a.len() > 1 && rest.is_empty() {
            let Some(&(name, takes)) = spec.iter().find(|(n, _)| *n == a) else {
                let accepted: Vec<&str> = spec.iter().map(|(n, _)| *n).collect();
                return err(format!(
                    "{cmd}: unknown option {a:?} (accepted: {})",
                    if accepted.is_empty() {
                        "none".to_string()
                    } else {
                        accepted.join(", ")
                    }
                ));
            };
            if takes {
                let Some(v) = args.get(i + 1) else {
                    return err(format!("{cmd}: option {name} needs a value"));
                };
                flags.push((name, Some(v.as_str())));
                i += 2;
            } else {
                flags.push((name, None));
                i += 1;
            }
        } else {
            rest.push(a);
            i += 1;
        }
    }
    Ok(Opts { flags, rest })
}

impl<'a> Opts<'a> {
    fn value(&self, name: &str) -> Option<&'a str> {
        self.flags
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| *v)
    }
    fn has(&self, name: &str) -> bool {
        self.flags.iter().any(|(n, _)| *n == name)
    }
    fn arity(&self, cmd: &str, min: usize, max: usize, usage: &str) -> Result<(), ParseError> {
        let n = self.rest.len();
        if n < min {
            return err(format!("{cmd}: missing argument: usage: {usage}"));
        }
        if n > max {
            return err(format!(
                "{cmd}: unexpected argument {:?}: usage: {usage}",
                self.rest[max]
            ));
        }
        Ok(())
    }
}

fn parse_command(cmd: &str, args: &[String]) -> Result<Command, ParseError> {
    const A: (&str, bool) = ("-a", true);
    let host = |s: &str| HostRef(s.to_string());
    match cmd {
        "status" => {
            let o = getopt(cmd, args, &[A, ("-t", true)])?;
            o.arity(cmd, 0, 2, "status [<user> [<tag>]]")?;
            Ok(Command::Status {
                user: o.rest.first().map(|s| s.to_string()),
                tag: o
                    .rest
                    .get(1)
                    .map(|s| s.to_string())
                    .or(o.value("-t").map(str::to_string)),
            })
        }
        "map" => {
            let o = getopt(cmd, args, &[A, ("-f", true), ("-h", false), ("-u", false)])?;
            let usage = "map [-f <users file>] [-h <hash> | -u <user> | <host>]";
            o.arity(cmd, 0, 1, usage)?;
            let users_file = o.value("-f").map(str::to_string);
            let mode = match (o.has("-h"), o.has("-u"), o.rest.first()) {
                (true, true, _) => return err(format!("map: -h and -u exclude each other: usage: {usage}")),
                (true, false, Some(h)) => MapMode::HashNames(parse_u32("hash", h)?),
                (false, true, Some(u)) => MapMode::UserHash(u.to_string()),
                (true, _, None) | (_, true, None) => {
                    return err(format!("map: missing argument: usage: {usage}"));
                }
                (false, false, h) => MapMode::Records(h.map(|h| host(h))),
            };
            Ok(Command::Map { users_file, mode })
        }
        "add" => {
            let o = getopt(cmd, args, &[A, ("-t", true)])?;
            o.arity(cmd, 1, 2, "add [-t <tag>] <host>[@<tag>] [<vhost count>]")?;
            let mut spec = o.rest[0];
            let mut name = None;
            if let Some((n, ip)) = spec.split_once('=') {
                if n.is_empty() || ip.is_empty() {
                    return err(format!("add: invalid host {spec:?}: expected <ip> or NAME=<ip>"));
                }
                name = Some(n.to_string());
                spec = ip;
            }
            let mut tag = o.value("-t").filter(|t| !t.is_empty()).map(str::to_string);
            if tag.is_none()
                && let Some((h, t)) = spec.split_once('@')
            {
                tag = Some(t.to_string());
                spec = h;
            }
            let vhosts = o.rest.get(1).map(|v| parse_u32("vhost count", v)).transpose()?;
            Ok(Command::Add {
                host: host(spec),
                tag,
                vhosts,
                name,
            })
        }
        "update" => {
            let o = getopt(cmd, args, &[A])?;
            o.arity(cmd, 2, 2, "update <host> <vhost count>")?;
            Ok(Command::Update {
                host: host(o.rest[0]),
                vhosts: parse_u32("vhost count", o.rest[1])?,
            })
        }
        "up" | "down" | "remove" => {
            let o = getopt(cmd, args, &[A])?;
            o.arity(cmd, 1, 1, &format!("{cmd} <host>"))?;
            let h = host(o.rest[0]);
            Ok(match cmd {
                "up" => Command::Up(h),
                "down" => Command::Down(h),
                _ => Command::Remove(h),
            })
        }
        "flush" => {
            let o = getopt(cmd, args, &[A, ("-F", false), ("--max-parallel", true)])?;
            o.arity(cmd, 1, 1, "flush [-F] [--max-parallel <n>] <host>|all")?;
            let max_parallel = match o.value("--max-parallel") {
                Some(v) => match parse_u32("--max-parallel", v)? {
                    0 => None,
                    n => Some(n),
                },
                None => None,
            };
            let target = match o.rest[0] {
                "all" => FlushTarget::All,
                h => FlushTarget::Host(host(h)),
            };
            Ok(Command::Flush {
                target,
                force: o.has("-F"),
                max_parallel,
            })
        }
        "move" => {
            let o = getopt(cmd, args, &[A])?;
            o.arity(cmd, 2, 2, "move <user> <host>")?;
            Ok(Command::Move {
                user: o.rest[0].to_string(),
                host: host(o.rest[1]),
            })
        }
        "kick" => {
            let o = getopt(cmd, args, &[A])?;
            o.arity(cmd, 1, 1, "kick <user>")?;
            Ok(Command::Kick {
                user: o.rest[0].to_string(),
            })
        }
        "dump" => {
            let o = getopt(cmd, args, &[A])?;
            o.arity(cmd, 0, 0, "dump")?;
            Ok(Command::Dump)
        }
        "ring" => err("ring: director ring commands are not simulated (dirsim models a single director)"),
        other => err(format!("unknown command {other:?}: expected one of {USAGE}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(line: &str) -> Command {
        parse_line(line).unwrap().command
    }

    #[test]
    fn prefixes_and_formats() {
        let i = parse_line("doveadm -f tab director status").unwrap();
        assert_eq!(i.format, Some(OutputFormat::Tab));
        assert_eq!(
            i.command,
            Command::Status {
                user: None,
                tag: None
            }
        );
        assert_eq!(
            parse_line("-f tab status").unwrap().format,
            Some(OutputFormat::Tab)
        );
        assert_eq!(
            parse_line("doveadm -fjson director map").unwrap().format,
            Some(OutputFormat::Json)
        );
        assert_eq!(
            parse_line("director status u1").unwrap().command,
            cmd("status u1")
        );
    }

    #[test]
    fn host_commands() {
        assert_eq!(
            cmd("add backend-01=10.0.0.1@t 50"),
            Command::Add {
                host: HostRef("10.0.0.1".into()),
                tag: Some("t".into()),
                vhosts: Some(50),
                name: Some("backend-01".into())
            }
        );
        assert_eq!(
            cmd("update b 0"),
            Command::Update {
                host: HostRef("b".into()),
                vhosts: 0
            }
        );
        assert_eq!(
            cmd("flush -F --max-parallel 7 all"),
            Command::Flush {
                target: FlushTarget::All,
                force: true,
                max_parallel: Some(7)
            }
        );
        assert_eq!(
            cmd("flush --max-parallel 0 x").to_owned(),
            Command::Flush {
                target: FlushTarget::Host(HostRef("x".into())),
                force: false,
                max_parallel: None
            }
        );
        assert_eq!(
            cmd("map -u bob"),
            Command::Map {
                users_file: None,
                mode: MapMode::UserHash("bob".into())
            }
        );
    }

    #[test]
    fn errors_name_the_problem() {
        for (line, want) in [
            ("update 10.0.0.1", "missing argument"),
            ("update 10.0.0.1 x", "invalid vhost count"),
            ("frobnicate", "unknown command"),
            ("flush", "missing argument"),
            ("flush -Q x", "unknown option"),
            ("status a b c", "unexpected argument"),
            ("-f flow status", "unsupported output format"),
            ("add \"x", "unterminated quote"),
            ("", "missing command"),
        ] {
            let e = parse_line(line).unwrap_err();
            assert!(e.message.contains(want), "{line:?}: {e}");
        }
    }
}
