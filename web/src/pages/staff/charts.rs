//! Charts as server-rendered SVG: no script, no chart library. Each scales to its
//! container (a `viewBox`, width 100%), names itself for screen readers (`role="img"`,
//! `<title>`, `<desc>`), labels its values in text, and prints in black and white
//! (every series also differs by pattern of placement, and values are written out).

use maud::{Markup, html};

/// Series colours (dark enough for white text, distinct in greyscale order).
pub const PALETTE: [&str; 8] = [
    "#1d4ed8", "#b45309", "#047857", "#7c3aed", "#be123c", "#0f766e", "#4d7c0f", "#475569",
];

const WIDTH: f64 = 640.0;
const LEFT: f64 = 150.0;
const RIGHT: f64 = 70.0;

/// A number for a label: whole when large, one decimal when small.
pub fn num(v: f64) -> String {
    if v >= 10.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn frame(id: &str, title: &str, desc: &str, height: f64, body: Markup) -> Markup {
    html! {
        svg.chart id=(id) viewBox=(format!("0 0 {WIDTH} {height}")) width="100%" role="img"
            aria-labelledby=(format!("{id}-t {id}-d")) xmlns="http://www.w3.org/2000/svg"
            font-family="system-ui, sans-serif" font-size="12" {
            title id=(format!("{id}-t")) { (title) }
            desc id=(format!("{id}-d")) { (desc) }
            (body)
        }
    }
}

fn legend(series: &[String], y: f64) -> Markup {
    let step = (WIDTH - 20.0) / series.len().max(1) as f64;
    html! {
        g.legend {
            @for (i, name) in series.iter().enumerate() {
                @let x = 10.0 + step * i as f64;
                rect x=(num(x)) y=(num(y)) width="10" height="10" fill=(PALETTE[i % PALETTE.len()]) {}
                text x=(num(x + 14.0)) y=(num(y + 9.0)) { (name) }
            }
        }
    }
}

/// A row of a horizontal bar chart: a label, one value per series (`None`: no data),
/// and an optional marker (a target) drawn as a line.
pub struct BarRow {
    pub label: String,
    pub values: Vec<Option<f64>>,
    pub marker: Option<f64>,
}

/// Horizontal grouped bars (one group per row), values written at the bar ends with
/// `unit`; the marker is a dashed line labelled `marker_label`.
pub fn hbars(
    id: &str,
    title: &str,
    rows: &[BarRow],
    series: &[String],
    unit: &str,
    marker_label: &str,
) -> Markup {
    let bar = 14.0;
    let group = bar * series.len() as f64 + 10.0;
    let top = 24.0;
    let height = top + group * rows.len() as f64 + 10.0;
    let max = rows
        .iter()
        .flat_map(|r| r.values.iter().flatten().copied().chain(r.marker))
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let scale = (WIDTH - LEFT - RIGHT) / max;
    let desc = rows
        .iter()
        .map(|r| {
            let vals: Vec<String> = series
                .iter()
                .zip(&r.values)
                .map(|(s, v)| match v {
                    Some(v) => format!("{s} {} {unit}", num(*v)),
                    None => format!("{s} no data"),
                })
                .collect();
            format!("{}: {}", r.label, vals.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ");
    frame(
        id,
        title,
        &desc,
        height,
        html! {
            (legend(series, 4.0))
            @for (i, row) in rows.iter().enumerate() {
                @let y0 = top + group * i as f64;
                text x=(num(LEFT - 6.0)) y=(num(y0 + group / 2.0)) text-anchor="end" { (row.label) }
                @for (j, v) in row.values.iter().enumerate() {
                    @let y = y0 + bar * j as f64;
                    @if let Some(v) = v {
                        rect x=(num(LEFT)) y=(num(y)) width=(num((v * scale).max(1.0))) height=(num(bar - 2.0))
                            fill=(PALETTE[j % PALETTE.len()]) {}
                        text x=(num(LEFT + v * scale + 4.0)) y=(num(y + bar - 4.0)) { (num(*v)) " " (unit) }
                    } @else {
                        text x=(num(LEFT + 4.0)) y=(num(y + bar - 4.0)) fill="#475569" { "no finished stays" }
                    }
                }
                @if let Some(m) = row.marker {
                    @let x = LEFT + m * scale;
                    line x1=(num(x)) x2=(num(x)) y1=(num(y0 - 2.0)) y2=(num(y0 + group - 8.0))
                        stroke="#111827" stroke-width="2" stroke-dasharray="4 3" {
                        title { (marker_label) " " (num(m)) " " (unit) }
                    }
                }
            }
        },
    )
}

/// Vertical columns, one stack per column (`values[i]` of series `i`), totals on top.
pub fn stacked_columns(
    id: &str,
    title: &str,
    columns: &[(String, Vec<f64>)],
    series: &[String],
) -> Markup {
    let top = 24.0;
    let plot = 200.0;
    let bottom = 30.0;
    let height = top + plot + bottom;
    let left = 40.0;
    let max = columns
        .iter()
        .map(|(_, v)| v.iter().sum::<f64>())
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let width = (WIDTH - left - 10.0) / columns.len().max(1) as f64;
    let desc = columns
        .iter()
        .map(|(label, v)| {
            let parts: Vec<String> = series
                .iter()
                .zip(v)
                .filter(|(_, x)| **x > 0.0)
                .map(|(s, x)| format!("{s} {}", num(*x)))
                .collect();
            format!(
                "{label}: {}",
                if parts.is_empty() {
                    "none".into()
                } else {
                    parts.join(", ")
                }
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    frame(
        id,
        title,
        &desc,
        height,
        html! {
            @if series.len() > 1 { (legend(series, 4.0)) }
            line x1=(num(left)) x2=(num(WIDTH - 10.0)) y1=(num(top + plot)) y2=(num(top + plot)) stroke="#111827" {}
            @for (i, (label, values)) in columns.iter().enumerate() {
                @let x = left + width * i as f64 + width * 0.15;
                @let w = width * 0.7;
                @let total: f64 = values.iter().sum();
                @for (j, y, h) in stack(values, top + plot, plot / max) {
                    rect x=(num(x)) y=(num(y)) width=(num(w)) height=(num(h))
                        fill=(PALETTE[j % PALETTE.len()]) stroke="#ffffff" stroke-width="1" {}
                }
                text x=(num(x + w / 2.0)) y=(num(top + plot - total / max * plot - 4.0)) text-anchor="middle" { (num(total)) }
                text x=(num(x + w / 2.0)) y=(num(top + plot + 16.0)) text-anchor="middle" { (label) }
            }
        },
    )
}

/// The segments of one stacked column from `base` upwards: (series, y, height).
fn stack(values: &[f64], base: f64, scale: f64) -> Vec<(usize, f64, f64)> {
    let mut y = base;
    let mut out = Vec::new();
    for (j, v) in values.iter().enumerate() {
        let h = v * scale;
        y -= h;
        if *v > 0.0 {
            out.push((j, y, h));
        }
    }
    out
}

/// Grouped columns: for each label, one column per series, values on top.
pub fn grouped_columns(
    id: &str,
    title: &str,
    columns: &[(String, Vec<f64>)],
    series: &[String],
    unit: &str,
) -> Markup {
    let top = 24.0;
    let plot = 180.0;
    let height = top + plot + 30.0;
    let left = 40.0;
    let max = columns
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let group = (WIDTH - left - 10.0) / columns.len().max(1) as f64;
    let w = group * 0.8 / series.len().max(1) as f64;
    let desc = columns
        .iter()
        .map(|(label, v)| {
            let parts: Vec<String> = series
                .iter()
                .zip(v)
                .map(|(s, x)| format!("{s} {} {unit}", num(*x)))
                .collect();
            format!("{label}: {}", parts.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ");
    frame(
        id,
        title,
        &desc,
        height,
        html! {
            (legend(series, 4.0))
            line x1=(num(left)) x2=(num(WIDTH - 10.0)) y1=(num(top + plot)) y2=(num(top + plot)) stroke="#111827" {}
            @for (i, (label, values)) in columns.iter().enumerate() {
                @let x0 = left + group * i as f64 + group * 0.1;
                @for (j, v) in values.iter().enumerate() {
                    @let h = v / max * plot;
                    @let x = x0 + w * j as f64;
                    rect x=(num(x)) y=(num(top + plot - h)) width=(num(w - 1.0)) height=(num(h))
                        fill=(PALETTE[j % PALETTE.len()]) {}
                    text x=(num(x + w / 2.0)) y=(num(top + plot - h - 3.0)) text-anchor="middle" font-size="10" { (num(*v)) }
                }
                text x=(num(x0 + group * 0.4)) y=(num(top + plot + 16.0)) text-anchor="middle" { (label) }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_string()).collect()
    }

    /// The metrics page's charts on fixed data, byte for byte.
    #[test]
    fn charts_render_the_same_svg_for_the_same_data() {
        let time = hbars(
            "time-in-step",
            "Time in step (hours)",
            &[
                BarRow {
                    label: "Request Test".into(),
                    values: vec![Some(3.5), Some(20.0)],
                    marker: Some(24.0),
                },
                BarRow {
                    label: "Test & Inspect".into(),
                    values: vec![Some(26.0), Some(49.5)],
                    marker: Some(48.0),
                },
                BarRow {
                    label: "Repair".into(),
                    values: vec![None, None],
                    marker: None,
                },
            ],
            &s(&["median", "90th percentile"]),
            "h",
            "target",
        );
        let per_step = stacked_columns(
            "per-step",
            "Items per step at each week's end",
            &[
                ("2026-W46".into(), vec![2.0, 1.0, 0.0]),
                ("2026-W47".into(), vec![1.0, 3.0, 2.0]),
            ],
            &s(&["Request Test", "Test & Inspect", "Sold"]),
        );
        let load = grouped_columns(
            "team-load",
            "Mechanics: booked vs capacity (hours)",
            &[
                ("2026-W47".into(), vec![120.0, 86.5]),
                ("2026-W48".into(), vec![120.0, 12.0]),
            ],
            &s(&["capacity", "booked"]),
            "h",
        );
        insta::assert_snapshot!("time_in_step", time.into_string());
        insta::assert_snapshot!("per_step", per_step.into_string());
        insta::assert_snapshot!("team_load", load.into_string());
    }
}
