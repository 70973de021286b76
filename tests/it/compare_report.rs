//! The comparison report written by `dirsim compare`: its two charts (PNG,
//! SVG) and compare.html.

use std::path::Path;

use crate::util::dirsim;

const FIGS: [&str; 2] = ["compare-imbalance", "compare-moved"];
const PAIRS: [&str; 4] = ["flush-all", "flush-all @ rendezvous", "none", "none @ rendezvous"];
const METRICS: [&str; 9] = [
    "users moved",
    "kicked",
    "logins delayed",
    "logins failed",
    "final imbalance",
    "peak imbalance",
    "balanced after (s)",
    "moves done (s)",
    "commands",
];

/// `dirsim compare` on add-backend: flush-all and none × dovecot and
/// rendezvous, 3 replications, into `dir`.
fn compare_to(dir: &Path, extra: &[&str]) {
    let out = dirsim()
        .args([
            "compare",
            "scenarios/add-backend.toml",
            "--strategy",
            "flush-all",
            "--strategy",
            "none",
        ])
        .args([
            "--placement",
            "dovecot",
            "--placement",
            "rendezvous",
            "--replications",
            "3",
            "-o",
        ])
        .arg(dir)
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

/// Decodes a PNG into (width, height, RGB bytes).
fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let mut dec = png::Decoder::new(bytes);
    dec.set_transformations(png::Transformations::EXPAND);
    let mut reader = dec.read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG data");
    assert_eq!(info.color_type, png::ColorType::Rgb, "RGB");
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

/// Share of pixels in rows `rows` that are not white.
fn inked(width: u32, rgb: &[u8], rows: std::ops::Range<u32>) -> f64 {
    let row_len = width as usize * 3;
    let px = rgb[rows.start as usize * row_len..rows.end as usize * row_len].chunks(3);
    let n = px.len();
    px.filter(|p| p.iter().any(|&c| c < 250)).count() as f64 / n as f64
}

/// Distinct colours among the pixels (capped at `cap`).
fn colours(rgb: &[u8], cap: usize) -> usize {
    let mut seen = std::collections::BTreeSet::new();
    for p in rgb.chunks(3) {
        seen.insert((p[0], p[1], p[2]));
        if seen.len() >= cap {
            break;
        }
    }
    seen.len()
}

/// Every `<text>` of an SVG document, whitespace-trimmed.
fn svg_texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).expect("SVG is XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.attribute("width"), Some("1200"));
    assert_eq!(root.attribute("height"), Some("700"));
    root.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").trim().to_string())
        .collect()
}

fn parse_html(text: &str) -> roxmltree::Document<'_> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(text, opts).expect("compare.html is well-formed")
}

/// The text of a node and everything under it.
fn text_of(n: roxmltree::Node) -> String {
    n.descendants()
        .filter(|d| d.is_text())
        .filter_map(|d| d.text())
        .collect()
}

#[test]
fn charts_are_1200x700_with_every_pair() {
    let t = tempfile::tempdir().unwrap();
    compare_to(t.path(), &[]);
    for f in FIGS {
        let (w, h, rgb) = decode_png(&read(t.path(), &format!("{f}.png")));
        assert_eq!((w, h), (1200, 700), "{f}.png size");
        let all = inked(w, &rgb, 0..h);
        assert!(all > 0.03, "{f}.png is nearly blank ({all:.3} inked)");
        let title = inked(w, &rgb, 4..40);
        assert!(title > 0.01, "{f}.png has no title ({title:.4} inked)");
        assert!(colours(&rgb, 64) >= 64, "{f}.png has few colours");
        let texts = svg_texts(&String::from_utf8(read(t.path(), &format!("{f}.svg"))).unwrap());
        assert!(
            texts.iter().any(|t| t.starts_with("Add two backends: ")),
            "{f}.svg title: {texts:?}"
        );
        for p in PAIRS {
            assert!(texts.iter().any(|t| t == p), "{f}.svg lacks {p:?}: {texts:?}");
        }
        assert!(
            texts.iter().any(|t| t == "balanced (≤ 1.10)"),
            "{f}.svg tolerance line: {texts:?}"
        );
    }
    let imb = svg_texts(&String::from_utf8(read(t.path(), "compare-imbalance.svg")).unwrap());
    for tick in ["00:00", "01:00", "03:00"] {
        assert!(imb.iter().any(|t| t == tick), "time axis lacks {tick}: {imb:?}");
    }
    assert!(imb.iter().any(|t| t == "min–max of the runs"), "{imb:?}");
    let moved = svg_texts(&String::from_utf8(read(t.path(), "compare-moved.svg")).unwrap());
    assert!(
        moved.iter().any(|t| t.starts_with("users moved (")),
        "x axis: {moved:?}"
    );
    assert!(
        moved.iter().any(|t| t.starts_with("final imbalance (")),
        "y axis: {moved:?}"
    );
}

#[test]
fn compare_html_holds_the_summary_both_charts_and_every_run() {
    let t = tempfile::tempdir().unwrap();
    compare_to(t.path(), &["--tolerance", "0.15"]);
    let html = String::from_utf8(read(t.path(), "compare.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>\n"));
    let outside_svg_ns = html.replace("http://www.w3.org/2000/svg", "");
    for bad in ["<script", "http://", "https://", "@import", "url(", "<img"] {
        assert!(!outside_svg_ns.contains(bad), "compare.html contains {bad:?}");
    }
    let doc = parse_html(&html);
    let by_id = |id: &str| doc.descendants().find(|n| n.attribute("id") == Some(id));
    let h1 = doc.descendants().find(|n| n.has_tag_name("h1")).unwrap();
    assert_eq!(h1.text(), Some("Add two backends"));
    let study = text_of(by_id("study").expect("study table"));
    for s in ["replications3", "seeds1..3", "runs12", "0.15", "≤ 1.15"] {
        assert!(
            study.replace('\u{a0}', " ").contains(s),
            "study table lacks {s:?}: {study}"
        );
    }
    let summary = by_id("summary-table").expect("summary table");
    let rows: Vec<_> = summary.descendants().filter(|n| n.has_tag_name("tr")).collect();
    assert_eq!(rows.len(), 1 + PAIRS.len(), "header + one row per pair");
    let head: Vec<String> = rows[0]
        .children()
        .filter(|n| n.is_element())
        .map(text_of)
        .collect();
    assert_eq!(head[0], "strategy");
    assert_eq!(head[1..], METRICS);
    for (row, pair) in rows[1..].iter().zip(PAIRS) {
        let cells: Vec<String> = row.children().filter(|n| n.is_element()).map(text_of).collect();
        assert_eq!(cells.len(), 1 + METRICS.len());
        assert_eq!(cells[0], pair);
        assert!(cells[5].contains(" ± "), "final imbalance of {pair}: {cells:?}");
        let settle = &cells[7];
        assert!(
            settle == "never" || settle.contains('±') || settle.contains("never)"),
            "{pair}: {settle}"
        );
    }
    // none never moves anyone; its settle time is never.
    let none: Vec<String> = rows[3]
        .children()
        .filter(|n| n.is_element())
        .map(text_of)
        .collect();
    assert_eq!((none[1].as_str(), none[7].as_str()), ("0.0 ± 0.0", "never"));
    assert!(by_id("reading").is_some(), "how to read this");
    for f in FIGS {
        let fig = by_id(f).unwrap_or_else(|| panic!("no figure {f}"));
        let svg = fig
            .descendants()
            .find(|n| n.has_tag_name("svg"))
            .unwrap_or_else(|| panic!("{f}: no inline SVG"));
        let texts: Vec<&str> = svg
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .collect();
        assert!(
            PAIRS.iter().all(|p| texts.iter().any(|t| t.trim() == *p)),
            "{f}: {texts:?}"
        );
        assert!(text_of(fig).contains(&format!("{f}.png")), "{f}: link to the PNG");
    }
    let details = doc
        .descendants()
        .find(|n| n.has_tag_name("details"))
        .expect("runs in <details>");
    let runs = details
        .descendants()
        .find(|n| n.attribute("id") == Some("runs-table"))
        .expect("runs table");
    let rows: Vec<_> = runs.descendants().filter(|n| n.has_tag_name("tr")).collect();
    assert_eq!(rows.len(), 1 + PAIRS.len() * 3, "header + one row per run");
    let csv = String::from_utf8(read(t.path(), "compare.csv")).unwrap();
    let first: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    let cells: Vec<String> = rows[1]
        .children()
        .filter(|n| n.is_element())
        .map(text_of)
        .collect();
    assert_eq!(cells[..3], ["flush-all", "0", first[4]]);
    assert_eq!(cells[3], first[5], "users moved of the first run");
}

#[test]
fn same_study_gives_byte_identical_report() {
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    compare_to(&a, &["--jobs", "1"]);
    compare_to(&b, &["--jobs", "3"]);
    let files = names(&a);
    assert_eq!(files, names(&b));
    for f in [
        "compare-imbalance.png",
        "compare-imbalance.svg",
        "compare-moved.png",
        "compare-moved.svg",
        "compare.html",
    ] {
        assert!(files.iter().any(|n| n == f), "{f} missing");
    }
    for f in &files {
        assert!(
            read(&a, f) == read(&b, f),
            "{f} differs between identical studies"
        );
    }
}

#[test]
fn no_charts_writes_no_images_or_page() {
    let t = tempfile::tempdir().unwrap();
    compare_to(t.path(), &["--no-charts"]);
    let files = names(t.path());
    assert!(
        files
            .iter()
            .all(|f| !(f.ends_with(".png") || f.ends_with(".svg") || f.ends_with(".html"))),
        "{files:?}"
    );
    assert!(files.iter().any(|f| f == "compare.csv"), "{files:?}");
}

#[test]
fn scenario_text_is_escaped() {
    let text = r#"
name = "Tom & Jerry <b>\"quoted\"</b>"
duration = "5m"
[[backend]]
name = "x<1>"
ip = "10.0.0.1"
[[backend]]
name = "y&2"
ip = "10.0.0.2"
[workload]
users = 20
session_length = { dist = "fixed", value = "1h" }
[[step]]
at = "1m"
run = "update x<1> 0"
"#;
    let t = tempfile::tempdir().unwrap();
    let s = t.path().join("s.toml");
    std::fs::write(&s, text).unwrap();
    let out = t.path().join("o");
    let run = dirsim()
        .arg("compare")
        .arg(&s)
        .args([
            "--strategy",
            "none",
            "--strategy",
            "flush-all",
            "--replications",
            "2",
            "-o",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let html = String::from_utf8(read(&out, "compare.html")).unwrap();
    assert!(!html.contains("<b>"), "unescaped markup");
    let doc = parse_html(&html);
    let h1 = doc.descendants().find(|n| n.has_tag_name("h1")).unwrap();
    assert_eq!(h1.text(), Some("Tom & Jerry <b>\"quoted\"</b>"));
    for f in FIGS {
        let texts = svg_texts(&String::from_utf8(read(&out, &format!("{f}.svg"))).unwrap());
        assert!(
            texts.iter().any(|t| t.starts_with("Tom & Jerry <b>")),
            "{f}: {texts:?}"
        );
    }
}
