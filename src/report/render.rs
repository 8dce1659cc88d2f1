//! The renderings of a [`Report`]: Markdown tables (one unit per column, named in its header),
//! JSON (serde) and an SVG chart (plotters) of call bytes per site and instructions executed per
//! call, with the floor marked.

use crate::emit::strategy::StrategyId;
use crate::report::measure::{ProfileReport, Report, Tally};
use crate::Named;
use plotters::prelude::*;
use serde::Serialize;
use std::fmt::Write;

fn pct(a: f64, b: f64) -> String {
    if b == 0.0 {
        "-".into()
    } else {
        format!("{:+.1}%", 100.0 * (a - b) / b)
    }
}

/// `x` rounded to 4 decimals (the JSON's ratios).
fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// The floor every strategy is measured against: a direct `bl`.
#[derive(Serialize)]
struct Floor {
    bytes_per_site: u32,
    insns_per_call: u32,
    taken_branches_per_call: u32,
}

/// One strategy's figures in report.json: the exact sums, then the ratios (4 decimals).
#[derive(Serialize)]
struct StrategyJson<'a> {
    strategy: &'a str,
    programs: u64,
    sites: u64,
    calls: u64,
    total_bytes: u64,
    pool_bytes: u64,
    stub_bytes: u64,
    call_bytes: u64,
    inline_insns: u64,
    exec_call_insns: u64,
    taken_branches: u64,
    in_code_insns: u64,
    fallback_sites: u64,
    islands: u64,
    bytes_per_site: f64,
    inline_insns_per_site: f64,
    exec_insns_per_call: f64,
    taken_branches_per_call: f64,
}

impl<'a> StrategyJson<'a> {
    fn of(t: &'a Tally) -> Self {
        StrategyJson {
            strategy: t.strategy.name(),
            programs: t.programs,
            sites: t.sites,
            calls: t.calls,
            total_bytes: t.total_bytes,
            pool_bytes: t.pool_bytes,
            stub_bytes: t.stub_bytes,
            call_bytes: t.call_bytes,
            inline_insns: t.inline_insns,
            exec_call_insns: t.exec_call_insns,
            taken_branches: t.taken_branches,
            in_code_insns: t.in_code_insns,
            fallback_sites: t.fallbacks,
            islands: t.islands,
            bytes_per_site: round4(t.bytes_per_site()),
            inline_insns_per_site: round4(t.inline_per_site()),
            exec_insns_per_call: round4(t.exec_per_call()),
            taken_branches_per_call: round4(t.branches_per_call()),
        }
    }
}

#[derive(Serialize)]
struct ProfileJson<'a> {
    name: &'a str,
    first_seed: u64,
    strategies: Vec<StrategyJson<'a>>,
}

#[derive(Serialize)]
struct ReportJson<'a> {
    a64call: &'static str,
    commit: &'a str,
    programs_per_profile: u64,
    floor: Floor,
    profiles: Vec<ProfileJson<'a>>,
}

impl Report {
    /// JSON rendering (keys in a fixed order).
    pub fn json(&self) -> String {
        let doc = ReportJson {
            a64call: env!("CARGO_PKG_VERSION"),
            commit: &self.commit,
            programs_per_profile: self.programs,
            floor: Floor {
                bytes_per_site: 4,
                insns_per_call: 1,
                taken_branches_per_call: 1,
            },
            profiles: self
                .profiles
                .iter()
                .map(|pr| ProfileJson {
                    name: pr.profile.name,
                    first_seed: pr.first_seed,
                    strategies: pr.tallies.iter().map(StrategyJson::of).collect(),
                })
                .collect(),
        };
        serde_json::to_string(&doc).expect("a report serializes") + "\n"
    }

    /// Markdown rendering.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# a64call strategy report\n");
        let _ = writeln!(
            s,
            "a64call {} (commit {}); {} programs per profile. Every number is an exact count: bytes from the emitted code, \
             instructions and taken branches from Unicorn's execution of every program, split into call sequences and the rest \
             (see `src/report/measure.rs`). Rerunning gives the same numbers. Time is not reported: emulated time is not ARM time.\n",
            env!("CARGO_PKG_VERSION"),
            self.commit,
            self.programs
        );
        let _ = writeln!(s, "The physical floor is a direct `bl`: 4 bytes, 1 instruction, 1 taken branch per call; \"vs floor\" columns say how far each strategy is from it. Byte columns are means per function or per call site, instruction and branch columns means per call site or per executed call, as their headers say; fallback sites and islands are totals over the profile's programs.\n");
        for pr in &self.profiles {
            profile_markdown(&mut s, pr, self.programs);
        }
        s
    }

    /// SVG bar charts: call bytes per site and executed instructions per call, grouped by
    /// profile, one bar per strategy (each its own colour, named in the legend), the value axis
    /// on the left and the floor as a black line (no bar is black).
    pub fn svg(&self) -> String {
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, (1200, 420)).into_drawing_area();
            root.fill(&WHITE).expect("svg fill");
            let (left, right) = root.split_horizontally(600);
            let metrics: [Metric; 2] = [
                ("call bytes per site", Tally::bytes_per_site, 4.0),
                ("instructions executed per call", Tally::exec_per_call, 1.0),
            ];
            for (area, metric) in [left, right].iter().zip(metrics) {
                chart(area, self, metric).expect("svg chart");
            }
            root.present().expect("svg present");
        }
        out
    }
}

/// One profile's section of the Markdown report.
fn profile_markdown(s: &mut String, pr: &ProfileReport, programs: u64) {
    let _ = writeln!(
        s,
        "## Profile `{}`\n\n{} (seeds {}..{}).\n",
        pr.profile.name,
        pr.profile.about,
        pr.first_seed,
        pr.first_seed + programs
    );
    let _ = writeln!(
        s,
        "| strategy | code bytes / function | call bytes / site | vs floor (bytes / site) | pool bytes / function | stub bytes / function | inline insns / site | executed insns / call | vs floor (insns / call) | taken branches / call | fallback sites (total) | islands (total) |"
    );
    let _ = writeln!(
        s,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let _ = writeln!(
        s,
        "| *floor (direct bl)* | | 4.00 | | | | 1.00 | 1.00 | | 1.00 | | |"
    );
    for t in &pr.tallies {
        let _ = writeln!(
            s,
            "| {} | {:.1} | {:.2} | {:+.2} | {:.1} | {:.1} | {:.2} | {:.3} | {:+.3} | {:.3} | {} | {} |",
            t.strategy,
            t.bytes_per_function(),
            t.bytes_per_site(),
            t.bytes_per_site() - 4.0,
            t.pool_bytes_per_function(),
            t.stub_bytes_per_function(),
            t.inline_per_site(),
            t.exec_per_call(),
            t.exec_per_call() - 1.0,
            t.branches_per_call(),
            t.fallbacks,
            t.islands
        );
    }
    comparisons(s, pr);
}

/// The two comparisons under a profile's table: the CinderX change, and the literal pool
/// against the alternatives.
fn comparisons(s: &mut String, pr: &ProfileReport) {
    let get = |id: StrategyId| pr.tallies.iter().find(|t| t.strategy == id);
    if let (Some(pbl), Some(sbl)) = (get(StrategyId::PoolOrBl), get(StrategyId::StubOrBl)) {
        let _ = writeln!(
            s,
            "\nThe proposed CinderX change (`pool+bl` against today's `stub+bl`: direct `bl` for targets guessed near, \
             and where the program has an anchor a stub for each wrong near guess; `stub+bl` calls every target `bl` reaches directly): \
             code bytes per function {}; instructions executed per call {}; taken branches per call {:.3} against {:.3}.",
            pct(pbl.bytes_per_function(), sbl.bytes_per_function()),
            pct(pbl.exec_per_call(), sbl.exec_per_call()),
            pbl.branches_per_call(),
            sbl.branches_per_call()
        );
    }
    if let (Some(pool), Some(stub), Some(movz)) = (
        get(StrategyId::LiteralPool),
        get(StrategyId::StubCall),
        get(StrategyId::MovzMinimal),
    ) {
        let _ = writeln!(
            s,
            "\nLiteral pool against the alternatives on this profile: code bytes per function {} against `stub`, {} against `movz-min`; \
             instructions executed per call {} against `stub`, {} against `movz-min`; taken branches per call {:.3} against {:.3} (`stub`).\n",
            pct(pool.bytes_per_function(), stub.bytes_per_function()),
            pct(pool.bytes_per_function(), movz.bytes_per_function()),
            pct(pool.exec_per_call(), stub.exec_per_call()),
            pct(pool.exec_per_call(), movz.exec_per_call()),
            pool.branches_per_call(),
            stub.branches_per_call()
        );
    }
}

/// A plotted metric: title, how to compute it, its floor.
type Metric = (&'static str, fn(&Tally) -> f64, f64);

/// Eight colours that stay apart in print and for the common colour-vision deficiencies (Okabe
/// and Ito's palette, with grey in place of its black, which marks the floor).
const SERIES: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(213, 94, 0),
    RGBColor(86, 180, 233),
    RGBColor(204, 121, 167),
    RGBColor(240, 228, 66),
    RGBColor(128, 128, 128),
];

/// The floor line: black, wider than the axis lines, and no bar's colour.
const FLOOR: RGBColor = RGBColor(0, 0, 0);

/// Pixels to the right of each chart's plot for its legend, which so covers no bar.
const LEGEND_WIDTH: u32 = 165;

/// One metric's grouped bar chart on `area`: the plot, and the legend beside it.
fn chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    report: &Report,
    (title, value, floor): Metric,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let names: Vec<&str> = report
        .profiles
        .first()
        .map(|p| p.tallies.iter().map(|t| t.strategy.name()).collect())
        .unwrap_or_default();
    let (area, legend_area) = area.split_horizontally(area.dim_in_pixel().0 - LEGEND_WIDTH);
    legend(&legend_area, &names, floor)?;
    let max = report
        .profiles
        .iter()
        .flat_map(|p| p.tallies.iter().map(value))
        .fold(floor, f64::max)
        * 1.15;
    let per_group = names.len() as f64 + 1.0;
    let groups = report.profiles.len() as f64;
    let mut c = ChartBuilder::on(&area)
        .caption(title, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(45)
        .build_cartesian_2d(0f64..groups * per_group, 0f64..max)?;
    c.configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc(title)
        .draw()?;
    for si in 0..names.len() {
        let color = SERIES[si % SERIES.len()];
        let bars = report.profiles.iter().enumerate().filter_map(|(pi, pr)| {
            let t = pr.tallies.get(si)?;
            let x = pi as f64 * per_group + si as f64;
            Some(Rectangle::new(
                [(x, 0.0), (x + 0.9, value(t))],
                color.filled(),
            ))
        });
        c.draw_series(bars)?;
    }
    for (pi, pr) in report.profiles.iter().enumerate() {
        let x = pi as f64 * per_group + names.len() as f64 / 2.0;
        c.draw_series(std::iter::once(Text::new(
            pr.profile.name,
            (x, max * 0.97),
            ("sans-serif", 12).into_font(),
        )))?;
    }
    c.draw_series(LineSeries::new(
        [(0.0, floor), (groups * per_group, floor)],
        FLOOR.stroke_width(2),
    ))?;
    Ok(())
}

/// The legend: one swatch per strategy in its colour, then the floor's line, top to bottom.
fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    names: &[&str],
    floor: f64,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let font = ("sans-serif", 13).into_font();
    let row = |i: usize| 40 + 20 * i as i32;
    for (si, name) in names.iter().enumerate() {
        let (y, color) = (row(si), SERIES[si % SERIES.len()]);
        area.draw(&Rectangle::new([(8, y - 5), (18, y + 5)], color.filled()))?;
        area.draw(&Text::new(name.to_string(), (24, y - 7), font.clone()))?;
    }
    let y = row(names.len());
    area.draw(&PathElement::new([(6, y), (20, y)], FLOOR.stroke_width(2)))?;
    area.draw(&Text::new(
        format!("floor (direct bl): {floor}"),
        (24, y - 7),
        font,
    ))
}

#[cfg(test)]
mod tests {
    use crate::report::measure::measure;
    use crate::Named;

    #[test]
    fn renderings_carry_every_strategy_with_units_and_a_floor() {
        let r = measure(&[crate::model::profile::BuiltIn::Far64.profile()], 1, 2).unwrap();
        let names: Vec<&str> = r.profiles[0]
            .tallies
            .iter()
            .map(|t| t.strategy.name())
            .collect();
        assert_eq!(names.len(), 8);
        // JSON: parses, one entry per strategy, exact sums kept.
        let j: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
        let strategies = j["profiles"][0]["strategies"].as_array().unwrap();
        assert_eq!(strategies.len(), 8);
        assert_eq!(
            strategies[0]["total_bytes"].as_u64(),
            Some(r.profiles[0].tallies[0].total_bytes)
        );
        assert_eq!(j["floor"]["bytes_per_site"], 4);
        // Markdown: every column names its unit.
        let md = r.markdown();
        let header = md.lines().find(|l| l.starts_with("| strategy")).unwrap();
        for col in header
            .split('|')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .skip(1)
        {
            assert!(col.contains('/') || col.contains("total"), "{col}");
        }
        // SVG: every strategy in the legend, in its own colour, and the floor labelled.
        let svg = r.svg();
        for n in &names {
            assert!(svg.contains(&format!("\n{n}\n")), "{n} not in the legend");
        }
        for c in super::SERIES {
            let hex = format!("fill=\"#{:02X}{:02X}{:02X}\"", c.0, c.1, c.2);
            assert!(svg.contains(&hex), "{hex}");
        }
        let floor = super::FLOOR;
        assert!(
            !super::SERIES.contains(&floor),
            "a bar has the floor's colour"
        );
        assert!(svg.contains("floor (direct bl): 4") && svg.contains("floor (direct bl): 1"));
    }
}
