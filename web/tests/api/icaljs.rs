//! Our `.ics` feeds read by Mozilla's ical.js (the parser of Thunderbird and
//! Nextcloud), which places every time by the feed's own `VTIMEZONE`: for ten years
//! ahead in three zones, every occurrence it finds starts and ends at the instants our
//! occurrences API answers.
//!
//! ical.js is pinned in `web/tests/ical/package.json`; `.ci/run` installs it
//! (`npm ci --prefix web/tests/ical`).

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;

/// Unix ms of a UTC date-time `YYYY-MM-DDTHH:MM`.
fn utc(s: &str) -> i64 {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
        .unwrap()
        .and_utc()
        .timestamp_millis()
}

/// Unix ms of a local time in `zone` that exists exactly once.
fn local(zone: &str, s: &str) -> i64 {
    use chrono::TimeZone;
    let tz: chrono_tz::Tz = zone.parse().unwrap();
    let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap();
    tz.from_local_datetime(&naive)
        .single()
        .unwrap()
        .timestamp_millis()
}

/// What ical.js finds in `feed` within `[from, to)`: `[uid, start, end, recurrence id,
/// summary]` rows, sorted.
fn read_by_icaljs(feed: &str, from: i64, to: i64) -> Vec<Value> {
    use std::io::Write;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ical");
    assert!(
        dir.join("node_modules/ical.js").exists(),
        "ical.js is not installed: npm ci --prefix web/tests/ical (.ci/run does)"
    );
    let mut child = std::process::Command::new("node")
        .arg(dir.join("expand.mjs"))
        .arg(from.to_string())
        .arg(to.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("node runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(feed.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "ical.js failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn icaljs_reads_our_feeds_as_the_occurrences_api_answers_for_ten_years() {
    let app = spawn_app().await;
    let _org = app.org("Demo Motors", "owner@example.com").await;
    let (owner, csrf) = app.login("owner@example.com").await;
    let calendars: Value = owner
        .get(app.url("/api/v1/calendars"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let personal = calendars
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "personal")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let create = |body: Value| {
        let owner = owner.clone();
        let url = app.url(&format!("/api/v1/calendars/{personal}/events"));
        let csrf = csrf.clone();
        async move {
            let resp = owner
                .post(url)
                .header("x-csrf-token", &csrf)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::CREATED, "{body}");
            resp.json::<Value>().await.unwrap()
        }
    };
    let forever = |freq: &str, by_day: Vec<u8>| json!({"freq": freq, "by_day": by_day});
    let (sto, ny, syd) = ("Europe/Stockholm", "America/New_York", "Australia/Sydney");
    // The series: monthly 09:00 in Stockholm, no end (10:00 in ical.js from 2029).
    create(json!({"title": "Monthly review", "zone": sto,
        "start": local(sto, "2026-12-15T09:00"), "end": local(sto, "2026-12-15T10:00"),
        "recurrence": forever("monthly", vec![])}))
    .await;
    // Daily in the spring gap (02:30 does not exist once a year) and the autumn overlap.
    create(
        json!({"title": "Night check", "zone": sto, "location": "Workshop",
        "start": local(sto, "2026-12-01T02:30"), "end": local(sto, "2026-12-01T03:00"),
        "recurrence": forever("daily", vec![])}),
    )
    .await;
    create(json!({"title": "Late close", "zone": ny,
        "start": local(ny, "2026-12-01T01:30"), "end": local(ny, "2026-12-01T02:00"),
        "recurrence": forever("daily", vec![])}))
    .await;
    // A Saturday night shift spanning both changes of each year.
    create(json!({"title": "Night shift", "zone": sto,
        "start": local(sto, "2026-12-05T22:00"), "end": local(sto, "2026-12-06T06:00"),
        "recurrence": forever("weekly", vec![6])}))
    .await;
    // Sydney: Sunday 02:30 (in its October gap and its April overlap), one cancelled,
    // one moved; an all-day series; a New York weekly series with an end.
    let standup = create(json!({"title": "Stand-up", "zone": syd,
        "start": local(syd, "2026-12-06T02:30"), "end": local(syd, "2026-12-06T03:30"),
        "recurrence": forever("weekly", vec![7])}))
    .await;
    let standup = standup["id"].as_str().unwrap();
    let cancel = owner
        .post(app.url(&format!(
            "/api/v1/calendars/{personal}/events/{standup}/occurrences/2027-01-10T02:30/cancel"
        )))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), StatusCode::OK);
    let moved = owner
        .patch(app.url(&format!(
            "/api/v1/calendars/{personal}/events/{standup}/occurrences/2027-01-17T02:30"
        )))
        .header("x-csrf-token", &csrf)
        .json(&json!({"start": local(syd, "2027-01-18T10:00"), "end": local(syd, "2027-01-18T11:15")}))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), StatusCode::OK);
    create(json!({"title": "Stocktake", "zone": syd, "all_day": true,
        "start": local(syd, "2026-12-06T00:00"), "end": local(syd, "2026-12-07T00:00"),
        "recurrence": forever("weekly", vec![7])}))
    .await;
    create(json!({"title": "Sales meeting", "zone": ny,
        "start": local(ny, "2026-12-07T09:00"), "end": local(ny, "2026-12-07T10:00"),
        "recurrence": {"freq": "weekly", "by_day": [1, 4], "until": "2031-06-30"}}))
    .await;
    // A single event at the second 01:30 of New York's 2027 fall-back night.
    create(json!({"title": "Second 01:30", "zone": ny,
        "start": utc("2027-11-07T06:30"), "end": utc("2027-11-07T07:00")}))
    .await;

    let feed: Value = owner
        .post(app.url(&format!("/api/v1/calendars/{personal}/feed")))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = reqwest::get(app.url(feed["path"].as_str().unwrap()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    if let Ok(dir) = std::env::var("CFLOWS_SAVE_FEED") {
        std::fs::write(Path::new(&dir).join("feed.ics"), &text).unwrap();
    }

    let (from, to) = (utc("2026-12-01T00:00"), utc("2036-11-27T00:00"));
    let theirs = read_by_icaljs(&text, from, to);
    let zones: std::collections::HashMap<String, String> = {
        let snap: Value = owner
            .get(app.url(&format!(
                "/api/v1/calendars/{personal}/occurrences?from={from}&to={}",
                from + 1
            )))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(snap.is_array());
        [
            ("Monthly review", sto),
            ("Night check", sto),
            ("Late close", ny),
            ("Night shift", sto),
            ("Stand-up", syd),
            ("Stocktake", syd),
            ("Sales meeting", ny),
            ("Second 01:30", ny),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
    };
    let mut ours = Vec::new();
    let mut at = from;
    while at < to {
        let until = (at + 400 * 86_400_000 - 1).min(to);
        let page: Vec<Value> = owner
            .get(app.url(&format!(
                "/api/v1/calendars/{personal}/occurrences?from={at}&to={until}"
            )))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for o in page {
            // Each page includes what overlaps it; count an occurrence on its start's page.
            let (s, e) = (o["start"].as_i64().unwrap(), o["end"].as_i64().unwrap());
            if s < at && at != from {
                continue;
            }
            assert!(e > s, "an occurrence ends after it starts: {o}");
            let title = o["title"].as_str().unwrap().to_string();
            let (start, end) = if o["all_day"] == true {
                let tz: chrono_tz::Tz = zones[&title].parse().unwrap();
                let day = |ms: i64| {
                    chrono::DateTime::from_timestamp_millis(ms)
                        .unwrap()
                        .with_timezone(&tz)
                        .format("%Y-%m-%d")
                        .to_string()
                };
                (json!(day(s)), json!(day(e)))
            } else {
                (json!(s), json!(e))
            };
            let rid = o["occurrence"].as_str().map(str::to_string);
            ours.push(json!([
                format!("{}@cflows", o["event"].as_str().unwrap()),
                start,
                end,
                rid,
                title
            ]));
        }
        at = until;
    }
    // ical.js names occurrences with seconds (and all-day ones by date): compare the
    // local start to the minute.
    let norm = |rows: Vec<Value>| {
        let mut rows: Vec<String> = rows
            .into_iter()
            .map(|mut r| {
                if let Some(rid) = r[3].as_str() {
                    let rid = if rid.len() == 10 {
                        format!("{rid}T00:00")
                    } else {
                        rid[..16].to_string()
                    };
                    r[3] = json!(rid);
                }
                r.to_string()
            })
            .collect();
        rows.sort();
        rows
    };
    let (ours, theirs) = (norm(ours), norm(theirs));
    assert!(ours.len() > 8000, "{}", ours.len());
    let (a, b): (BTreeSet<&String>, BTreeSet<&String>) =
        (ours.iter().collect(), theirs.iter().collect());
    let missing: Vec<&&String> = a.difference(&b).take(10).collect();
    let extra: Vec<&&String> = b.difference(&a).take(10).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "ical.js disagrees with the occurrences API ({} vs {} occurrences)\nonly ours: {missing:#?}\nonly ical.js: {extra:#?}",
        ours.len(),
        theirs.len()
    );
}
