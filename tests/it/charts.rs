//! Charts (PNG, SVG) and report.html written by `dirsim run`.

use std::path::Path;

use crate::util::dirsim;

const CHARTS: [&str; 5] = ["users", "connections", "steps", "imbalance", "moves"];
const BACKENDS: [&str; 5] = [
    "backend-01",
    "backend-02",
    "backend-03",
    "backend-04",
    "backend-05",
];

/// Runs `dirsim run ARGS -o DIR` with extra environment; panics unless it succeeds.
fn run_env(dir: &Path, args: &[&str], env: &[(&str, &Path)]) {
    let mut cmd = dirsim();
    cmd.arg("run").args(args).arg("-o").arg(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn run_to(dir: &Path, args: &[&str]) {
    run_env(dir, args, &[]);
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
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

/// The checks every chart of the default scenario passes.
fn check_charts(dir: &Path) {
    for c in CHARTS {
        let (w, h, rgb) = decode_png(&read(dir, &format!("{c}.png")));
        assert_eq!((w, h), (1200, 700), "{c}.png size");
        let all = inked(w, &rgb, 0..h);
        assert!(all > 0.03, "{c}.png is nearly blank ({all:.3} inked)");
        let title = inked(w, &rgb, 4..40);
        assert!(title > 0.01, "{c}.png has no title text ({title:.4} inked)");
        let svg = String::from_utf8(read(dir, &format!("{c}.svg"))).unwrap();
        let texts = svg_texts(&svg);
        assert!(
            texts
                .iter()
                .any(|t| t.starts_with("Rebalancing backends: the documented procedure")),
            "{c}.svg title: {texts:?}"
        );
        if matches!(c, "users" | "connections" | "steps") {
            for b in BACKENDS {
                assert!(texts.iter().any(|t| t == b), "{c}.svg legend lacks {b}");
            }
        }
        if c != "steps" {
            assert!(texts.iter().any(|t| t == "00:30"), "{c}.svg time axis: {texts:?}");
        }
        assert!(texts.iter().any(|t| t == "flush 01"), "{c}.svg step label");
    }
}

#[test]
fn charts_are_1200x700_pngs_and_svgs_with_text() {
    let t = tempfile::tempdir().unwrap();
    run_to(t.path(), &[]);
    check_charts(t.path());
    let texts = svg_texts(&String::from_utf8(read(t.path(), "users.svg")).unwrap());
    // Equal capacities: the fair share is the mean, so no fair-share lines.
    for label in ["update 02→0", "update 03→100", "mean"] {
        assert!(
            texts.iter().any(|t| t == label),
            "users.svg lacks {label:?}: {texts:?}"
        );
    }
    assert!(!texts.iter().any(|t| t == "fair share"), "{texts:?}");
    // Unequal capacities (backend-maintenance takes one backend down): the
    // fair share differs from the mean, and is drawn.
    let m = t.path().join("maint");
    dirsim()
        .args(["run", "scenarios/backend-maintenance.toml", "-o"])
        .arg(&m)
        .output()
        .unwrap();
    let texts = svg_texts(&String::from_utf8(read(&m, "users.svg")).unwrap());
    assert!(
        texts.iter().any(|t| t == "fair share"),
        "maintenance users.svg: {texts:?}"
    );
}

#[test]
fn charts_render_without_system_fonts_and_identically() {
    let t = tempfile::tempdir().unwrap();
    let conf = t.path().join("fonts.conf");
    std::fs::write(&conf, "<?xml version=\"1.0\"?>\n<fontconfig></fontconfig>\n").unwrap();
    let empty = t.path().join("no-fonts");
    std::fs::create_dir(&empty).unwrap();
    let (bare, normal) = (t.path().join("bare"), t.path().join("normal"));
    let env = [
        ("FONTCONFIG_FILE", conf.as_path()),
        ("FONTCONFIG_PATH", empty.as_path()),
        ("XDG_DATA_HOME", empty.as_path()),
        ("HOME", empty.as_path()),
    ];
    run_env(&bare, &[], &env);
    check_charts(&bare);
    run_to(&normal, &[]);
    for c in CHARTS {
        for ext in ["png", "svg"] {
            let f = format!("{c}.{ext}");
            assert!(
                read(&bare, &f) == read(&normal, &f),
                "{f} differs without system fonts"
            );
        }
    }
}

#[test]
fn same_run_gives_byte_identical_charts_and_report() {
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    let args = ["scenarios/add-backend.toml", "--seed", "3"];
    run_to(&a, &args);
    run_to(&b, &args);
    let mut files: Vec<String> = CHARTS
        .iter()
        .flat_map(|c| [format!("{c}.png"), format!("{c}.svg")])
        .collect();
    files.push("report.html".into());
    for f in files {
        assert!(read(&a, &f) == read(&b, &f), "{f} differs between identical runs");
    }
}

fn parse_html(text: &str) -> roxmltree::Document<'_> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(text, opts).expect("report.html is well-formed")
}

#[test]
fn report_html_holds_every_step_and_chart_and_the_scenario() {
    let t = tempfile::tempdir().unwrap();
    run_to(t.path(), &[]);
    let html = String::from_utf8(read(t.path(), "report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>\n"));
    for bad in ["<script", "http://", "https://", "@import", "url("] {
        let outside_svg_ns = html.replace("http://www.w3.org/2000/svg", "");
        assert!(!outside_svg_ns.contains(bad), "report.html contains {bad:?}");
    }
    let doc = parse_html(&html);
    let by_id = |id: &str| doc.descendants().find(|n| n.attribute("id") == Some(id));
    let title = doc.descendants().find(|n| n.has_tag_name("h1")).unwrap();
    assert_eq!(
        title.text(),
        Some("Rebalancing backends: the documented procedure")
    );
    for c in CHARTS {
        let fig = by_id(&format!("chart-{c}")).unwrap_or_else(|| panic!("no figure for {c}"));
        assert!(
            fig.descendants().any(|n| n.has_tag_name("svg")),
            "{c}: no inline SVG"
        );
    }
    for step in 0..=14 {
        let sec = by_id(&format!("step-{step}")).unwrap_or_else(|| panic!("no step {step}"));
        let rows = sec.descendants().filter(|n| n.has_tag_name("tr")).count();
        assert_eq!(rows, 6, "step {step}: header + 5 backends");
    }
    let step3 = by_id("step-3").unwrap();
    let text: String = step3.descendants().filter_map(|n| n.text()).collect();
    assert!(text.contains("doveadm director flush backend-01"), "{text}");
    let pre = doc
        .descendants()
        .find(|n| n.has_tag_name("details"))
        .and_then(|d| d.descendants().find(|n| n.has_tag_name("pre")))
        .expect("scenario in <details><pre>");
    let source = std::fs::read_to_string("scenarios/documented-procedure.toml").unwrap();
    assert_eq!(pre.text(), Some(source.as_str()));
    for figure in [
        "users moved",
        "connections kicked",
        "final imbalance",
        "peak imbalance",
        "seed",
    ] {
        assert!(
            html.contains(&format!("<th>{figure}</th>")),
            "summary lacks {figure}"
        );
    }
    assert!(html.contains("Time each flush took"));
}

#[test]
fn report_escapes_scenario_text() {
    let text = r#"
name = "Tom & Jerry <b>\"quoted\"</b>"
description = "a < b && c > d"
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
    run_to(&out, &[s.to_str().unwrap()]);
    let html = String::from_utf8(read(&out, "report.html")).unwrap();
    assert!(!html.contains("<b>"), "unescaped markup");
    let doc = parse_html(&html);
    let h1 = doc.descendants().find(|n| n.has_tag_name("h1")).unwrap();
    assert_eq!(h1.text(), Some("Tom & Jerry <b>\"quoted\"</b>"));
    let texts = svg_texts(&String::from_utf8(read(&out, "users.svg")).unwrap());
    assert!(texts.iter().any(|t| t == "x<1>"), "{texts:?}");
}

#[test]
fn no_charts_writes_no_images_or_report() {
    let t = tempfile::tempdir().unwrap();
    run_to(t.path(), &["--no-charts"]);
    let mut names: Vec<String> = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ".dirsim",
            "steps.csv",
            "steps.txt",
            "summary.csv",
            "timeseries.csv"
        ]
    );
}
