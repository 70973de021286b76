//! Short texts of the charts: backend colours and short names, a step's
//! command in a few characters, time-axis ticks, label spreading.

use plotters::style::{Color, HSLColor, RGBColor};

/// The colour of backend `i`, the same in every chart.
pub fn backend_color(i: usize) -> RGBColor {
    const BASE: [RGBColor; 10] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(23, 190, 207),
        RGBColor(188, 189, 34),
        RGBColor(57, 59, 121),
    ];
    if let Some(c) = BASE.get(i) {
        return *c;
    }
    let hue = (i as f64 * 0.618_033_988_75).fract();
    let light = [0.42, 0.32, 0.52][i % 3];
    let c = HSLColor(hue, 0.7, light).to_backend_color().rgb;
    RGBColor(c.0, c.1, c.2)
}

/// Names with their shared prefix cut back to its last `-`/`_`, when every
/// name keeps something (`backend-02` → `02`, `mx-a` → `a`); else unchanged.
pub fn short_names(names: &[&str]) -> Vec<String> {
    let keep = || names.iter().map(|n| n.to_string()).collect();
    let Some(first) = names.first() else {
        return Vec::new();
    };
    if names.len() < 2 {
        return keep();
    }
    let mut len = first.len();
    for n in &names[1..] {
        len = first
            .bytes()
            .zip(n.bytes())
            .take(len)
            .take_while(|(a, b)| a == b)
            .count();
    }
    let cut = first[..len].rfind(['-', '_']).map_or(0, |i| i + 1);
    if cut == 0 || names.iter().any(|n| n.len() <= cut) {
        return keep();
    }
    names.iter().map(|n| n[cut..].to_string()).collect()
}

/// A step's command in a few characters: `doveadm director update
/// backend-02 0` → `update 02→0`. `short` maps a backend name or IP to its
/// short name.
pub fn short_command(command: &str, short: impl Fn(&str) -> Option<String>) -> String {
    let mut words = command.split_whitespace().peekable();
    words.next_if_eq(&"doveadm");
    words.next_if_eq(&"director");
    let Some(verb) = words.next() else {
        return command.trim().to_string();
    };
    let mut args: Vec<String> = Vec::new();
    while let Some(w) = words.next() {
        match w {
            "-f" | "-t" | "-a" | "--max-parallel" => {
                words.next();
            }
            _ if w.starts_with("--") => {}
            "-F" => args.push(w.to_string()),
            _ => {
                let host = w.split_once('=').map_or(w, |(name, _)| name);
                args.push(short(host).unwrap_or_else(|| w.to_string()));
            }
        }
    }
    let text = match (verb, args.as_slice()) {
        ("update" | "move", [a, b]) => format!("{verb} {a}→{b}"),
        _ if args.is_empty() => verb.to_string(),
        _ => format!("{verb} {}", args.join(" ")),
    };
    truncate_chars(&text, 28)
}

pub(super) fn truncate_chars(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut t: String = s.chars().take(n - 1).collect();
    t.push('…');
    t
}

/// Time-axis ticks: a round step giving at most 12 intervals.
pub(crate) fn time_ticks(end_s: f64) -> (Vec<f64>, u64) {
    const STEPS: [u64; 21] = [
        1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400,
        172_800, 604_800, 2_592_000,
    ];
    let step = STEPS
        .iter()
        .copied()
        .find(|&s| end_s / s as f64 <= 12.0)
        .unwrap_or(2_592_000);
    let ticks = (0..)
        .map(|k| (k * step) as f64)
        .take_while(|&t| t <= end_s + 1e-9)
        .collect();
    (ticks, step)
}

/// `hh:mm` (`hh:mm:ss` for ticks under a minute apart), `Nd hh:mm` past a day.
pub(crate) fn time_label(s: u64, step: u64) -> String {
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    let hm = if step < 60 {
        format!("{h:02}:{m:02}:{sec:02}")
    } else {
        format!("{h:02}:{m:02}")
    };
    if d > 0 { format!("{d}d {hm}") } else { hm }
}

pub(crate) fn count_label(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-6 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Positions for labels wanted at sorted `xs`, at least `gap` apart: groups
/// that would overlap are centred on their wanted positions.
pub(super) fn spread(xs: &[f64], gap: f64) -> Vec<f64> {
    // (count, sum of wanted positions)
    let mut groups: Vec<(usize, f64)> = Vec::new();
    let start = |g: &(usize, f64)| g.1 / g.0 as f64 - (g.0 - 1) as f64 * gap / 2.0;
    for &x in xs {
        groups.push((1, x));
        while let [.., a, b] = groups[..] {
            if start(&a) + a.0 as f64 * gap <= start(&b) {
                break;
            }
            groups.pop();
            *groups.last_mut().expect("two groups") = (a.0 + b.0, a.1 + b.1);
        }
    }
    groups
        .iter()
        .flat_map(|g| (0..g.0).map(move |k| start(g) + k as f64 * gap))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms() {
        let names = ["backend-01", "backend-02", "backend-10"];
        assert_eq!(short_names(&names), ["01", "02", "10"]);
        assert_eq!(short_names(&["mx-a", "mx-b"]), ["a", "b"]);
        assert_eq!(short_names(&["b1", "b2"]), ["b1", "b2"]);
        assert_eq!(short_names(&["a-1", "a-"]), ["a-1", "a-"]);
        let short = |w: &str| w.strip_prefix("backend-").map(str::to_string);
        assert_eq!(
            short_command("doveadm director update backend-02 0", short),
            "update 02→0"
        );
        assert_eq!(short_command("flush backend-01", short), "flush 01");
        assert_eq!(
            short_command("doveadm director flush --max-parallel 20 all", short),
            "flush all"
        );
        assert_eq!(short_command("flush -F backend-03", short), "flush -F 03");
        assert_eq!(short_command("status", short), "status");
    }

    #[test]
    fn ticks_and_labels() {
        let (t, step) = time_ticks(3600.0);
        assert_eq!((t.len(), step), (13, 300));
        assert_eq!(time_ticks(86_400.0).1, 7200);
        assert_eq!(time_label(86_400 + 3660, 3600), "1d 01:01");
        assert_eq!(time_label(90, 30), "00:01:30");
    }

    #[test]
    fn spreading_keeps_order_and_gap() {
        assert_eq!(spread(&[0.0, 100.0], 10.0), [0.0, 100.0]);
        assert_eq!(spread(&[50.0, 50.0], 10.0), [45.0, 55.0]);
        let p = spread(&[0.0, 5.0, 10.0, 12.0], 10.0);
        assert!(p.windows(2).all(|w| w[1] - w[0] >= 10.0 - 1e-9), "{p:?}");
    }
}
