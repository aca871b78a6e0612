//! Process metrics of a workflow, computed from its items' histories: how long items
//! stay in each step (median and 90th percentile of finished stays), how many items
//! each step held at the end of each week, how many items reached a terminal step per
//! week, and which items are over their step's target now.

use cflows_protocol::WorkflowView;
use std::collections::HashMap;

/// One history row: `item` entered `to` at `at` (Unix ms).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub item: String,
    pub at: i64,
    pub to: String,
}

/// An item as it is now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub key: String,
    pub title: String,
    pub step: String,
    pub entered_at: i64,
    pub done: bool,
}

/// Time in one step.
#[derive(Clone, Debug, PartialEq)]
pub struct StepTime {
    pub step: String,
    pub name: String,
    /// Finished stays counted.
    pub stays: usize,
    /// Minutes; `None` without finished stays.
    pub median_minutes: Option<f64>,
    pub p90_minutes: Option<f64>,
    pub target_minutes: Option<u32>,
}

/// One week (Monday 00:00 UTC to the next).
#[derive(Clone, Debug, PartialEq)]
pub struct Week {
    /// `YYYY-Www`.
    pub label: String,
    /// Items in each step (workflow order) at the week's end (or now, for this week).
    pub per_step: Vec<usize>,
    /// Items that entered a terminal step during the week.
    pub finished: usize,
}

/// An item past its step's target.
#[derive(Clone, Debug, PartialEq)]
pub struct Overdue {
    pub key: String,
    pub title: String,
    pub step: String,
    pub minutes_in_step: i64,
    pub target_minutes: u32,
}

/// Everything the metrics page shows of one workflow.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkflowMetrics {
    pub steps: Vec<StepTime>,
    /// Oldest first.
    pub weeks: Vec<Week>,
    /// Longest over first.
    pub overdue: Vec<Overdue>,
}

/// One week in milliseconds.
pub const WEEK_MS: i64 = 7 * 24 * 3_600_000;

/// The `q` quantile (0..=1) of sorted `values`, by linear interpolation.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    let frac = pos - lo as f64;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

/// Monday 00:00 UTC of the week holding `at`.
pub fn week_start(at: i64) -> i64 {
    // 1970-01-01 was a Thursday: Mondays are 4 days after a multiple of 7 days.
    let offset = 4 * 24 * 3_600_000;
    (at - offset).div_euclid(WEEK_MS) * WEEK_MS + offset
}

fn week_label(start: i64) -> String {
    chrono::DateTime::from_timestamp_millis(start)
        .map(|d| d.format("%G-W%V").to_string())
        .unwrap_or_default()
}

/// Computes the metrics of `workflow` over the last `weeks` weeks up to `now`.
/// `entries` need not be sorted.
pub fn compute(
    workflow: &WorkflowView,
    items: &[Item],
    entries: &[Entry],
    now: i64,
    weeks: usize,
) -> WorkflowMetrics {
    let mut by_item: HashMap<&str, Vec<&Entry>> = HashMap::new();
    for e in entries {
        by_item.entry(e.item.as_str()).or_default().push(e);
    }
    for list in by_item.values_mut() {
        list.sort_by_key(|e| e.at);
    }
    // Finished stays per step.
    let mut stays: HashMap<&str, Vec<f64>> = HashMap::new();
    for list in by_item.values() {
        for pair in list.windows(2) {
            stays
                .entry(pair[0].to.as_str())
                .or_default()
                .push((pair[1].at - pair[0].at) as f64 / 60_000.0);
        }
    }
    let steps = workflow
        .steps
        .iter()
        .filter(|s| !s.terminal)
        .map(|s| {
            let mut v = stays.remove(s.id.as_str()).unwrap_or_default();
            v.sort_by(f64::total_cmp);
            StepTime {
                step: s.id.clone(),
                name: s.name.clone(),
                stays: v.len(),
                median_minutes: quantile(&v, 0.5),
                p90_minutes: quantile(&v, 0.9),
                target_minutes: s.target_minutes,
            }
        })
        .collect();
    let terminal: Vec<&str> = workflow
        .steps
        .iter()
        .filter(|s| s.terminal)
        .map(|s| s.id.as_str())
        .collect();
    let this_week = week_start(now);
    let weeks = (0..weeks)
        .rev()
        .map(|back| {
            let start = this_week - back as i64 * WEEK_MS;
            let end = (start + WEEK_MS).min(now);
            let mut per_step = vec![0; workflow.steps.len()];
            let mut finished = 0;
            for list in by_item.values() {
                if let Some(at_end) = list.iter().rev().find(|e| e.at < end)
                    && let Some(i) = workflow.steps.iter().position(|s| s.id == at_end.to)
                {
                    per_step[i] += 1;
                }
                finished += list
                    .iter()
                    .filter(|e| e.at >= start && e.at < end && terminal.contains(&e.to.as_str()))
                    .count();
            }
            Week {
                label: week_label(start),
                per_step,
                finished,
            }
        })
        .collect();
    let mut overdue: Vec<Overdue> = items
        .iter()
        .filter(|i| !i.done)
        .filter_map(|i| {
            let step = workflow.steps.iter().find(|s| s.id == i.step)?;
            let target = step.target_minutes?;
            let minutes = (now - i.entered_at) / 60_000;
            (minutes > i64::from(target)).then(|| Overdue {
                key: i.key.clone(),
                title: i.title.clone(),
                step: step.name.clone(),
                minutes_in_step: minutes,
                target_minutes: target,
            })
        })
        .collect();
    overdue.sort_by(|a, b| {
        (b.minutes_in_step - i64::from(b.target_minutes))
            .cmp(&(a.minutes_in_step - i64::from(a.target_minutes)))
    });
    WorkflowMetrics {
        steps,
        weeks,
        overdue,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cflows_protocol::{StepDef, WorkflowId};

    fn step(id: &str, terminal: bool, target: Option<u32>) -> StepDef {
        StepDef {
            id: id.into(),
            name: id.to_uppercase(),
            description: String::new(),
            team: None,
            start: id == "a",
            terminal,
            booking_job_type: None,
            target_minutes: target,
            fields: Vec::new(),
        }
    }

    pub(crate) fn workflow() -> WorkflowView {
        WorkflowView {
            id: WorkflowId::new("w"),
            name: "W".into(),
            key: "W".into(),
            version: 1,
            steps: vec![
                step("a", false, Some(60)),
                step("b", false, None),
                step("z", true, None),
            ],
            transitions: Vec::new(),
            created_at: 0,
            updated_at: 0,
        }
    }

    const MIN: i64 = 60_000;

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[4.0], 0.9), Some(4.0));
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.5));
        assert_eq!(quantile(&[0.0, 10.0], 0.9), Some(9.0));
    }

    #[test]
    fn stays_weeks_throughput_and_overdue() {
        // Monday 2026-11-16 00:00 UTC.
        let monday = 1_794_787_200_000;
        assert_eq!(week_start(monday + 3 * 24 * 60 * MIN), monday);
        let e = |item: &str, at: i64, to: &str| Entry {
            item: item.into(),
            at,
            to: to.into(),
        };
        let entries = vec![
            e("1", monday - WEEK_MS, "a"),
            e("1", monday - WEEK_MS + 30 * MIN, "b"),
            e("1", monday + 10 * MIN, "z"),
            e("2", monday + 60 * MIN, "a"),
            e("2", monday + 150 * MIN, "b"),
            e("3", monday + 100 * MIN, "a"),
        ];
        let items = vec![Item {
            key: "W-3".into(),
            title: "three".into(),
            step: "a".into(),
            entered_at: monday + 100 * MIN,
            done: false,
        }];
        let now = monday + 400 * MIN;
        let m = compute(&workflow(), &items, &entries, now, 2);
        assert_eq!(m.steps[0].stays, 2);
        assert_eq!(m.steps[0].median_minutes, Some(60.0));
        assert_eq!(m.steps[0].p90_minutes, Some(84.0));
        assert_eq!(m.weeks.len(), 2);
        assert_eq!(m.weeks[0].label, "2026-W46");
        assert_eq!(m.weeks[0].per_step, vec![0, 1, 0]);
        assert_eq!(m.weeks[1].per_step, vec![1, 1, 1]);
        assert_eq!((m.weeks[0].finished, m.weeks[1].finished), (0, 1));
        assert_eq!(m.overdue.len(), 1);
        assert_eq!(m.overdue[0].minutes_in_step, 300);
    }
}
