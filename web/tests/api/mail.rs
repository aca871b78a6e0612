//! Mail, as people meet it, against a real SMTP server (aiosmtpd, `tests/smtp/sink.py`),
//! whose messages Python's email package parses: a forgotten password, an invitation, a
//! mail server that refuses, and a server without mail.

use crate::helpers::*;
use cflows_actors::StoreConfig;
use cflows_protocol::Role;
use cflows_protocol::wire::close;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct SmtpSink {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port on this machine where nothing listens (yet).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl SmtpSink {
    fn start() -> Self {
        Self::start_on(free_port())
    }

    /// The sink on `port` (a mail server that comes back where the app expects it).
    fn start_on(port: u16) -> Self {
        Self::launch(port, &[])
    }

    /// The sink with `extra` arguments (its TLS mode, certificate, key and login).
    fn start_with(extra: &[&str]) -> Self {
        Self::launch(free_port(), extra)
    }

    fn launch(port: u16, extra: &[&str]) -> Self {
        let dir =
            std::env::temp_dir().join(format!("cflows-smtp-{}", cflows_actors::store::new_id()));
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp/sink.py");
        let mut child = Command::new("python3")
            .args([script, &port.to_string(), dir.to_str().unwrap()])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the SMTP sink (pip install aiosmtpd; .ci/run does)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(
            line.trim(),
            "ready",
            "the SMTP sink did not start (is aiosmtpd installed?)"
        );
        Self { child, port, dir }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far.
    fn messages(&self) -> Vec<Value> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .map(|e| serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap())
            .collect()
    }

    /// Waits (up to 10 s) for a message to `to`.
    async fn wait_for(&self, to: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(m) = self
                .messages()
                .into_iter()
                .find(|m| m["to"].as_str().unwrap_or("").contains(to))
            {
                return m;
            }
            assert!(Instant::now() < deadline, "no mail to {to} arrived");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The link in a mail's text part that starts with `prefix` (absolute).
fn link(mail: &Value, prefix: &str) -> String {
    let text = mail["text"].as_str().unwrap();
    let start = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} link in {text}"));
    text[start..].split_whitespace().next().unwrap().to_string()
}

async fn mail_app(sink: &SmtpSink) -> TestApp {
    mail_app_with(sink, |_| {}).await
}

/// [`mail_app`] with more settings.
async fn mail_app_with(
    sink: &SmtpSink,
    adjust: impl FnOnce(&mut cflows_web::settings::Settings),
) -> TestApp {
    let url = sink.url();
    spawn_app_with(StoreConfig::memory(), move |s| {
        s.mail.smtp_url = url;
        s.mail.from = "Demo Motors <cflows@demo-motors.test>".into();
        adjust(s);
    })
    .await
}

/// Posts the `/password/forgot` form as a browser would (its pre-session CSRF cookie).
async fn ask_for_link(app: &TestApp, email: &str) -> String {
    let browser = app.client();
    let csrf = app.csrf_from_page(&browser, "/password/forgot").await;
    let r = browser
        .post(app.url("/password/forgot"))
        .form(&[("csrf", csrf.as_str()), ("email", email)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.text().await.unwrap()
}

#[tokio::test]
async fn a_salesperson_who_forgot_her_password_sets_a_new_one_from_the_mail() {
    let sink = SmtpSink::start();
    let app = mail_app(&sink).await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    app.member(&org, "mia@example.com", "Mia Sales", Role::Member)
        .await;
    let mut old_socket = app.ws("mia@example.com").await;

    // The login page leads to the form; the answer is the same for an unknown address.
    let login = app.client().get(app.url("/login")).send().await.unwrap();
    assert!(
        login
            .text()
            .await
            .unwrap()
            .contains("href=\"/password/forgot\"")
    );
    let known = ask_for_link(&app, "mia@example.com").await;
    let unknown = ask_for_link(&app, "nobody@example.com").await;
    let words = |page: &str| page.split("<strong>").next().unwrap().to_string();
    assert!(known.contains("If an account exists for"), "{known}");
    assert_eq!(words(&known), words(&unknown), "the same answer either way");

    let mail = sink.wait_for("mia@example.com").await;
    assert_eq!(mail["from"], "Demo Motors <cflows@demo-motors.test>");
    assert_eq!(mail["subject"], "Set a new password for cflows");
    assert_eq!(mail["content_type"], "multipart/alternative");
    assert!(mail["message_id"].as_str().unwrap().starts_with('<'));
    let url = link(&mail, &app.url("/password/reset/"));
    assert!(
        mail["html"].as_str().unwrap().contains(&url),
        "the link is in both parts"
    );
    assert!(mail["text"].as_str().unwrap().contains("Hello Mia Sales"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sink.messages().len(),
        1,
        "nothing went to the unknown address"
    );

    // The link opens a form; the new password works, the old one and the old socket not.
    let browser = app.client();
    let path = url.trim_start_matches(&app.url(""));
    let csrf = app.csrf_from_page(&browser, path).await;
    let weak = browser
        .post(&url)
        .form(&[
            ("csrf", csrf.as_str()),
            ("new", "short"),
            ("again", "short"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        weak.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "nothing used up"
    );
    let done = browser
        .post(&url)
        .form(&[
            ("csrf", csrf.as_str()),
            ("new", "a much better password"),
            ("again", "a much better password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    assert!(
        done.text()
            .await
            .unwrap()
            .contains("Your new password is set")
    );
    assert_eq!(
        old_socket
            .closed_within(Duration::from_secs(5))
            .await
            .unwrap(),
        close::UNAUTHENTICATED,
        "her other sessions ended"
    );
    let login = |password: &'static str| {
        let c = app.client();
        let url = app.url("/api/v1/session");
        async move {
            c.post(url)
                .json(&json!({"email": "mia@example.com", "password": password}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(login("a much better password").await, StatusCode::OK);
    assert_eq!(login(PASSWORD).await, StatusCode::UNAUTHORIZED);
    // Used once: the link now says to ask for a new one.
    let again = browser.get(&url).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    assert!(again.text().await.unwrap().contains("Ask for a new link"));
    let _ = org;
}

#[tokio::test]
async fn an_invitation_arrives_by_mail_and_its_link_works() {
    let sink = SmtpSink::start();
    let app = mail_app(&sink).await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let (owner, csrf) = app.login("owner@example.com").await;
    let r = owner
        .post(app.url("/api/v1/members"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"email": "new.mechanic@example.com", "role": "member"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    let mail = sink.wait_for("new.mechanic@example.com").await;
    assert_eq!(
        mail["subject"],
        "Owner invites you to Demo Motors on cflows"
    );
    let url = link(&mail, &app.url("/invite/"));
    assert_eq!(
        url, created["link"],
        "the mailed link is the one the admin sees"
    );
    let page = app.client().get(&url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);

    // The staff view lists it as sent, with its body gone (it held a secret link).
    let staff = owner.get(app.url("/staff/mail")).send().await.unwrap();
    let html = staff.text().await.unwrap();
    assert!(
        html.contains("new.mechanic@example.com") && html.contains(">sent<"),
        "{html}"
    );
    let _ = org;
}

#[tokio::test]
async fn a_refused_mail_is_retried_or_shown_as_failed_with_a_button_to_send_it_again() {
    let sink = SmtpSink::start();
    let app = mail_app(&sink).await;
    app.org("Demo Motors", "owner@example.com").await;
    let (owner, csrf) = app.login("owner@example.com").await;
    let invite = |email: &'static str| {
        owner
            .post(app.url("/api/v1/members"))
            .header("x-csrf-token", &csrf)
            .json(&json!({"email": email, "role": "member"}))
            .send()
    };
    // Refused for now: sent again later (the test's backoff is the real one: 30 s), so
    // only its state is checked here; refused for good: failed at once.
    assert_eq!(
        invite("gone@bounce.test").await.unwrap().status(),
        StatusCode::CREATED
    );
    assert_eq!(
        invite("busy@later.test").await.unwrap().status(),
        StatusCode::CREATED
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let html = loop {
        let html = owner
            .get(app.url("/staff/mail"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if html.contains("failed") && html.contains("waiting to be sent") {
            break html;
        }
        assert!(Instant::now() < deadline, "{html}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        html.contains("no such mailbox"),
        "the server's words are shown: {html}"
    );
    assert!(html.contains("try again later"), "{html}");
    let store = app.core.directory.store();
    let org = store.org_by_slug("demo-motors").await.unwrap().unwrap();
    let failed: Vec<_> = store
        .recent_mail(&org.id, 10)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.state == "failed")
        .collect();
    assert_eq!(failed.len(), 1);
    let csrf_page = app.csrf_from_page(&owner, "/staff/mail").await;
    let r = owner
        .post(app.url(&format!("/staff/mail/{}/retry", failed[0].id)))
        .form(&[("csrf", csrf_page.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let metrics = app
        .client()
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("cflows_mail_queued"), "{metrics}");
}

#[tokio::test]
async fn without_mail_the_pages_say_so_and_an_admin_passes_a_reset_link_on() {
    let app = spawn_app().await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let mia = app
        .member(&org, "mia@example.com", "Mia Sales", Role::Member)
        .await;
    let page = app
        .client()
        .get(app.url("/password/forgot"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("This server does not send mail"), "{page}");
    let r = app
        .client()
        .post(app.url("/api/v1/password/forgot"))
        .json(&json!({"email": "mia@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);

    let (owner, csrf) = app.login("owner@example.com").await;
    let r = owner
        .post(app.url(&format!("/api/v1/members/{}/password-reset", mia.id)))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let sent: Value = r.json().await.unwrap();
    assert_eq!(sent["mailed"], false);
    let url = sent["link"].as_str().unwrap().to_string();
    let token = url.rsplit('/').next().unwrap();
    let r = app
        .client()
        .post(app.url("/api/v1/password/reset"))
        .json(&json!({"token": token, "password": "passed on by the boss"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = app
        .client()
        .post(app.url("/api/v1/password/reset"))
        .json(&json!({"token": token, "password": "passed on by the boss"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "once only");
    // Another organization's admin cannot send one to Mia: like a missing member.
    let other = app.org("Rival Cars", "rival@example.com").await;
    let (rival, rival_csrf) = app.login("rival@example.com").await;
    let r = rival
        .post(app.url(&format!("/api/v1/members/{}/password-reset", mia.id)))
        .header("x-csrf-token", &rival_csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let _ = other;
}

/// A message to a mechanic reaches his mailbox a moment later (he was not looking); one
/// read in the app meanwhile is not mailed; the mail's one-click unsubscribe (as a mail
/// program posts it, without a session) stops the next ones.
#[tokio::test]
async fn notifications_come_by_mail_unless_read_first_and_one_click_stops_them() {
    let sink = SmtpSink::start();
    let app = mail_app_with(&sink, |s| s.mail.notify_delay_secs = 2).await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let max = app
        .member(&org, "max@example.com", "Max Mechanic", Role::Member)
        .await;
    let bo = app
        .member(&org, "bo@example.com", "Bo Sales", Role::Member)
        .await;
    let (owner, csrf) = app.login("owner@example.com").await;
    let message = |to: String, body: &'static str| {
        owner
            .post(app.url("/api/v1/messages"))
            .header("x-csrf-token", &csrf)
            .json(&json!({"to": to, "body": body}))
            .send()
    };
    assert_eq!(
        message(
            max.id.to_string(),
            "The Golf's repair is booked for you tomorrow at 08:00"
        )
        .await
        .unwrap()
        .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        message(bo.id.to_string(), "Call the customer back")
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    // Bo reads it in the app at once.
    let (bo_http, bo_csrf) = app.login("bo@example.com").await;
    let r = bo_http
        .post(app.url("/api/v1/notifications/read-all"))
        .header("x-csrf-token", &bo_csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let mail = sink.wait_for("max@example.com").await;
    let text = mail["text"].as_str().unwrap();
    assert!(text.contains("tomorrow at 08:00"), "{text}");
    assert!(
        text.contains("Demo Motors"),
        "signed with the organization's name: {text}"
    );
    let unsubscribe = mail["headers"]["List-Unsubscribe"]
        .as_str()
        .expect("a List-Unsubscribe header")
        .trim_matches(|c| c == '<' || c == '>')
        .to_string();
    assert_eq!(
        mail["headers"]["List-Unsubscribe-Post"],
        "List-Unsubscribe=One-Click"
    );
    assert!(text.contains(&unsubscribe), "the link is in the mail too");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !sink
            .messages()
            .iter()
            .any(|m| m["to"].as_str().unwrap_or("").contains("bo@example.com")),
        "read in the app first: not mailed"
    );

    // One click, as a mail program does it.
    let r = reqwest::Client::new()
        .post(&unsubscribe)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("Messages to me"));
    message(max.id.to_string(), "And the Polo after it")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let to_max = sink
        .messages()
        .iter()
        .filter(|m| m["to"].as_str().unwrap_or("").contains("max@example.com"))
        .count();
    assert_eq!(to_max, 1, "no more mails of that kind");
}

impl SmtpSink {
    /// Waits (up to 10 s) until `n` messages to `to` arrived; returns them oldest first
    /// (by the order the sink received them is not kept: by their calendar sequence).
    async fn wait_for_n(&self, to: &str, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut got: Vec<Value> = self
                .messages()
                .into_iter()
                .filter(|m| m["to"].as_str().unwrap_or("").contains(to))
                .collect();
            if got.len() >= n {
                got.sort_by_key(|m| m["calendar"][0]["events"][0]["sequence"].as_i64());
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} mails to {to} arrived: {got:#?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The one iCalendar object of a calendar mail, as Python's `icalendar` read it, checked
/// to be both the `text/calendar` alternative and the `invite.ics` attachment.
fn calendar_of(mail: &Value) -> &Value {
    let parts = mail["calendar"].as_array().expect("calendar parts");
    assert_eq!(
        parts.len(),
        2,
        "a text/calendar part and an attachment: {mail:#}"
    );
    assert_eq!(parts[0]["content_type"], "text/calendar");
    assert_eq!(parts[1]["filename"], "invite.ics");
    assert_eq!(
        parts[0]["method"], parts[0]["ics_method"],
        "the part's method is the object's"
    );
    assert_eq!(parts[0]["events"], parts[1]["events"]);
    &parts[0]
}

/// An admin's JSON API calls.
struct Api<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    csrf: String,
}

impl<'a> Api<'a> {
    async fn login(app: &'a TestApp, email: &str) -> Api<'a> {
        let (client, csrf) = app.login(email).await;
        Api { app, client, csrf }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> reqwest::Response {
        self.client
            .request(method, self.app.url(path))
            .header("x-csrf-token", &self.csrf)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// `send`, which must succeed; its JSON.
    async fn ok(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let r = self.send(method, path, body).await;
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap()
    }

    /// A job type of `minutes` and a team (`team` fields) open every day from `open`
    /// to `close` in Berlin: the job type's and the team's ids.
    async fn workshop(
        &self,
        minutes: u32,
        team: Value,
        open: &str,
        close: &str,
    ) -> (String, String) {
        let job = self
            .ok(
                reqwest::Method::POST,
                "/api/v1/job-types",
                json!({"name": "Brake repair", "duration_minutes": minutes}),
            )
            .await;
        let team = self.ok(reqwest::Method::POST, "/api/v1/teams", team).await;
        let team = team["id"].as_str().unwrap().to_string();
        self.ok(
            reqwest::Method::PUT,
            &format!("/api/v1/teams/{team}/hours"),
            json!({
                "zone": "Europe/Berlin",
                "weekly": (1..=7).map(|d| json!({"weekday": d, "start": open, "end": close})).collect::<Vec<_>>(),
                "closed": [], "hold_minutes": 15
            }),
        )
        .await;
        (job["id"].as_str().unwrap().to_string(), team)
    }
}

#[tokio::test]
async fn a_mechanic_gets_his_booking_in_his_own_calendar_with_its_changes_and_its_cancellation() {
    let sink = SmtpSink::start();
    let app = mail_app(&sink).await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let max = app
        .member(&org, "max@example.com", "Max Mechanic", Role::Member)
        .await;
    let lea = app
        .member(&org, "lea@example.com", "Lea Painter", Role::Member)
        .await;
    let api = Api::login(&app, "owner@example.com").await;
    let (job, team) = api
        .workshop(
            120,
            json!({"name": "Workshop", "members": [max.id, lea.id], "bookable_count": 2}),
            "06:00",
            "20:00",
        )
        .await;
    let send = |method: reqwest::Method, path: String, body: Value| {
        let api = &api;
        async move { Ok::<_, ()>(api.send(method, &path, body).await) }
    };

    // Tuesday 15 June 2027, 08:00 in Berlin (summer time: 06:00 UTC).
    let start = chrono::DateTime::parse_from_rfc3339("2027-06-15T08:00:00+02:00")
        .unwrap()
        .timestamp_millis();
    let booked = send(
        reqwest::Method::POST,
        format!("/api/v1/teams/{team}/bookings"),
        json!({"job_type": job, "start": start, "confirm": true, "assigned": [max.id]}),
    )
    .await
    .unwrap();
    assert_eq!(booked.status(), StatusCode::CREATED);
    let booking: Value = booked.json().await.unwrap();
    let id = booking["id"].as_str().unwrap().to_string();

    let first = sink.wait_for("max@example.com").await;
    assert_eq!(
        first["subject"],
        "Booked for you: Brake repair, Tue 15 Jun, 08:00–10:00 (Europe/Berlin)"
    );
    let text = first["text"].as_str().unwrap();
    assert!(
        text.contains("booked you for Brake repair with Workshop"),
        "{text}"
    );
    let cal = calendar_of(&first);
    assert_eq!(cal["method"], "REQUEST");
    assert_eq!(cal["timezones"], json!(["Europe/Berlin"]));
    let ev = &cal["events"][0];
    assert_eq!(ev["uid"], format!("{id}@cflows"));
    assert_eq!(ev["tzid"], "Europe/Berlin", "DTSTART in the booking's zone");
    assert_eq!(
        ev["start_utc"], "2027-06-15T06:00:00+00:00",
        "the right instant"
    );
    assert_eq!(ev["status"], "CONFIRMED");
    assert_eq!(ev["attendees"], json!(["mailto:max@example.com"]));
    assert_eq!(ev["organizer"], "mailto:cflows@demo-motors.test");

    // Moved to 10:00: an update with a higher sequence.
    let moved = send(
        reqwest::Method::PATCH,
        format!("/api/v1/teams/{team}/bookings/{id}"),
        json!({"start": start + 2 * 3_600_000}),
    )
    .await
    .unwrap();
    assert_eq!(moved.status(), StatusCode::OK);
    let to_max = sink.wait_for_n("max@example.com", 2).await;
    let update = &to_max[1];
    assert_eq!(
        update["subject"],
        "Changed: Brake repair, Tue 15 Jun, 10:00–12:00 (Europe/Berlin)"
    );
    let ev = &calendar_of(update)["events"][0];
    assert_eq!(ev["start_utc"], "2027-06-15T08:00:00+00:00");
    assert!(
        ev["sequence"].as_i64() > calendar_of(&to_max[0])["events"][0]["sequence"].as_i64(),
        "a later sequence replaces the first invitation"
    );
    assert_ne!(to_max[0]["message_id"], update["message_id"]);

    // Given to Lea: she is invited, Max gets the cancellation of his copy.
    let reassigned = send(
        reqwest::Method::PUT,
        format!("/api/v1/teams/{team}/bookings/{id}/assigned"),
        json!({"assigned": [lea.id]}),
    )
    .await
    .unwrap();
    assert_eq!(reassigned.status(), StatusCode::OK);
    let to_max = sink.wait_for_n("max@example.com", 3).await;
    let off = &to_max[2];
    assert!(
        off["text"]
            .as_str()
            .unwrap()
            .contains("You are no longer on Brake repair")
    );
    let cal = calendar_of(off);
    assert_eq!(cal["method"], "CANCEL");
    assert_eq!(cal["events"][0]["status"], "CANCELLED");
    assert_eq!(cal["events"][0]["uid"], format!("{id}@cflows"));
    let to_lea = sink.wait_for("lea@example.com").await;
    assert!(
        to_lea["subject"]
            .as_str()
            .unwrap()
            .starts_with("Booked for you: Brake repair")
    );

    // Cancelled: Lea's copy is cancelled; nobody hears twice of anything.
    let cancelled = send(
        reqwest::Method::POST,
        format!("/api/v1/teams/{team}/bookings/{id}/cancel"),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(cancelled.status(), StatusCode::OK);
    let to_lea = sink.wait_for_n("lea@example.com", 2).await;
    assert_eq!(
        to_lea[1]["subject"],
        "Cancelled: Brake repair, Tue 15 Jun, 10:00–12:00 (Europe/Berlin)"
    );
    assert_eq!(calendar_of(&to_lea[1])["method"], "CANCEL");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let all = sink.messages();
    assert_eq!(all.len(), 5, "three to Max, two to Lea: {all:#?}");
    let ids: std::collections::BTreeSet<&str> = all
        .iter()
        .map(|m| m["message_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 5);
}

#[tokio::test]
async fn an_invitee_gets_the_event_in_its_own_zone_and_its_deletion() {
    let sink = SmtpSink::start();
    let app = mail_app(&sink).await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let max = app
        .member(&org, "max@example.com", "Max Mechanic", Role::Member)
        .await;
    let (owner, csrf) = app.login("owner@example.com").await;
    let calendars: Value = get_json(&app, &owner, "/api/v1/calendars").await;
    let personal = calendars
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "personal")
        .unwrap_or(&calendars[0])["id"]
        .as_str()
        .unwrap()
        .to_string();
    // A weekly supplier call at 09:00 New York time (EST in January).
    let start = chrono::DateTime::parse_from_rfc3339("2027-01-12T09:00:00-05:00")
        .unwrap()
        .timestamp_millis();
    let created = owner
        .post(app.url(&format!("/api/v1/calendars/{personal}/events")))
        .header("x-csrf-token", &csrf)
        .json(&json!({
            "title": "Supplier call; parts, prices", "start": start, "end": start + 1_800_000,
            "zone": "America/New_York", "invitees": [max.id], "location": "Room 2",
            "recurrence": {"freq": "weekly", "count": 10}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let event: Value = created.json().await.unwrap();
    let id = event["id"].as_str().unwrap();
    let invite = sink.wait_for("max@example.com").await;
    assert!(
        invite["subject"]
            .as_str()
            .unwrap()
            .starts_with("Invitation: Supplier call; parts, prices, Tue 12 Jan, 15:00"),
        "in Max's zone (the organization's, Berlin): {}",
        invite["subject"]
    );
    let cal = calendar_of(&invite);
    assert_eq!(cal["method"], "REQUEST");
    assert_eq!(cal["timezones"], json!(["America/New_York"]));
    let ev = &cal["events"][0];
    assert_eq!(ev["tzid"], "America/New_York");
    assert_eq!(ev["start_utc"], "2027-01-12T14:00:00+00:00");
    assert_eq!(ev["summary"], "Supplier call; parts, prices");
    assert_eq!(ev["partstats"], json!(["NEEDS-ACTION"]));

    // Max answers in the app: that is no new invitation.
    let (max_http, max_csrf) = app.login("max@example.com").await;
    let r = max_http
        .post(app.url(&format!("/api/v1/calendars/{personal}/events/{id}/rsvp")))
        .header("x-csrf-token", &max_csrf)
        .json(&json!({"rsvp": "accepted"}))
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "an invitee answers: {}",
        r.status()
    );
    let deleted = owner
        .delete(app.url(&format!("/api/v1/calendars/{personal}/events/{id}")))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    let both = sink.wait_for_n("max@example.com", 2).await;
    let gone = &both[1];
    assert!(
        gone["text"].as_str().unwrap().contains("was deleted"),
        "{gone:#}"
    );
    let cal = calendar_of(gone);
    assert_eq!(cal["method"], "CANCEL");
    assert_eq!(cal["events"][0]["uid"], format!("{id}@cflows"));
    assert_eq!(cal["events"][0]["status"], "CANCELLED");
    // An event that is over: created and changed, it mails nobody.
    let past = chrono::Utc::now().timestamp_millis() - 3 * 86_400_000;
    let old: Value = owner
        .post(app.url(&format!("/api/v1/calendars/{personal}/events")))
        .header("x-csrf-token", &csrf)
        .json(
            &json!({"title": "Last week's review", "start": past, "end": past + 3_600_000,
            "zone": "Europe/Berlin", "invitees": [max.id]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = owner
        .put(app.url(&format!(
            "/api/v1/calendars/{personal}/events/{}",
            old["id"].as_str().unwrap()
        )))
        .header("x-csrf-token", &csrf)
        .json(
            &json!({"title": "Last week's review (minutes)", "start": past, "end": past + 3_600_000,
            "zone": "Europe/Berlin", "invitees": [max.id]}),
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());

    // A shared calendar deleted as a whole cancels its events' invitations.
    let shared: Value = owner
        .post(app.url("/api/v1/calendars"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "Workshop meetings"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let shared = shared["id"].as_str().unwrap().to_string();
    let r = owner
        .post(app.url(&format!("/api/v1/calendars/{shared}/events")))
        .header("x-csrf-token", &csrf)
        .json(&json!({"title": "Tool inventory", "start": start + 7 * 86_400_000,
            "end": start + 7 * 86_400_000 + 3_600_000, "zone": "Europe/Berlin", "invitees": [max.id]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    sink.wait_for_n("max@example.com", 3).await;
    let r = owner
        .delete(app.url(&format!("/api/v1/calendars/{shared}")))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let all = sink.wait_for_n("max@example.com", 4).await;
    let last = all
        .iter()
        .find(|m| {
            m["subject"]
                .as_str()
                .unwrap()
                .starts_with("Cancelled: Tool inventory")
        })
        .unwrap_or_else(|| panic!("no cancellation of the deleted calendar's event: {all:#?}"));
    assert_eq!(calendar_of(last)["method"], "CANCEL");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        sink.messages().len(),
        4,
        "the answer and the past event sent nothing; two invitations, two cancellations"
    );
}

#[tokio::test]
async fn a_team_reminds_its_mechanic_of_tomorrows_repair_once() {
    let sink = SmtpSink::start();
    let app = mail_app_with(&sink, |s| s.mail.reminder_poll_secs = 1).await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let max = app
        .member(&org, "max@example.com", "Max Mechanic", Role::Member)
        .await;
    let api = Api::login(&app, "owner@example.com").await;
    let owner = &api.client;
    let team_body = |hours: Value| json!({"name": "Workshop", "members": [max.id], "bookable_count": 1, "reminder_hours": hours});
    let (job, team) = api
        .workshop(60, team_body(json!(null)), "00:00", "24:00")
        .await;
    let send = |method: reqwest::Method, path: String, body: Value| {
        let api = &api;
        async move { Ok::<_, ()>(api.send(method, &path, body).await) }
    };
    let (status, code, message) = error_code(
        send(
            reqwest::Method::PUT,
            format!("/api/v1/teams/{team}"),
            team_body(json!(0)),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input")
    );
    assert!(message.contains("1 to 168 hours"), "{message}");
    let now = chrono::Utc::now().timestamp_millis();
    let hour = 3_600_000;
    let soon = now - now.rem_euclid(hour) + 3 * hour;
    for start in [soon, soon + 30 * hour] {
        let r = send(
            reqwest::Method::POST,
            format!("/api/v1/teams/{team}/bookings"),
            json!({"job_type": job, "start": start, "confirm": true, "assigned": [max.id]}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    // Reminders switched on (a day before) in the staff panel, as an admin does it.
    let csrf_page = app
        .csrf_from_page(owner, &format!("/staff/teams/{team}"))
        .await;
    let r = owner
        .post(app.url(&format!("/staff/teams/{team}")))
        .form(&[
            ("csrf", csrf_page.as_str()),
            ("name", "Workshop"),
            ("members", max.id.as_str()),
            ("bookable_count", "1"),
            ("reminder_hours", "24"),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success() || r.status().is_redirection(),
        "{}",
        r.status()
    );
    let page = owner
        .get(app.url(&format!("/staff/teams/{team}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"<option value="24" selected>1 day before</option>"#),
        "the form shows the team's reminder"
    );

    let deadline = Instant::now() + Duration::from_secs(10);
    let reminder = loop {
        let found = sink.messages().into_iter().find(|m| {
            m["subject"]
                .as_str()
                .is_some_and(|s| s.starts_with("Reminder: Brake repair"))
        });
        if let Some(m) = found {
            break m;
        }
        assert!(
            Instant::now() < deadline,
            "no reminder arrived: {:#?}",
            sink.messages()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(reminder["to"].as_str().unwrap().contains("max@example.com"));
    let text = reminder["text"].as_str().unwrap();
    assert!(text.contains("Brake repair with Workshop starts"), "{text}");
    assert!(text.contains("1 day before"), "{text}");
    // Looked for every second: still one reminder, none for the booking in 30 hours.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let reminders = sink
        .messages()
        .into_iter()
        .filter(|m| m["subject"].as_str().unwrap_or("").starts_with("Reminder:"))
        .count();
    assert_eq!(reminders, 1);

    // An API client that does not know the setting keeps it when it edits the team;
    // null turns it off.
    let renamed: Value = send(
        reqwest::Method::PUT,
        format!("/api/v1/teams/{team}"),
        json!({"name": "Workshop North", "members": [max.id], "bookable_count": 1}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(renamed["reminder_hours"], 24, "{renamed}");
    let off: Value = send(
        reqwest::Method::PUT,
        format!("/api/v1/teams/{team}"),
        team_body(json!(null)),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(off["reminder_hours"].is_null(), "{off}");
}

/// A certificate authority and a certificate it issued for `localhost` (openssl), in
/// `dir`: (ca.pem, cert.pem, key.pem).
fn certificates(dir: &std::path::Path) -> (String, String, String) {
    let path = |n: &str| dir.join(n).to_str().unwrap().to_string();
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let (ca_key, ca, key, csr, cert, ext) = (
        path("ca.key"),
        path("ca.pem"),
        path("key.pem"),
        path("cert.csr"),
        path("cert.pem"),
        path("ext.cnf"),
    );
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &ca_key,
        "-out",
        &ca,
        "-days",
        "2",
        "-subj",
        "/CN=cflows test relay CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &key,
        "-out",
        &csr,
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(
        &ext,
        "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-out",
        &cert,
        "-days",
        "2",
        "-extfile",
        &ext,
    ]);
    (ca, cert, key)
}

#[tokio::test]
async fn mail_goes_to_a_private_relay_over_starttls_and_implicit_tls_with_a_login() {
    let dir = std::env::temp_dir().join(format!("cflows-tls-{}", cflows_actors::store::new_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (ca, cert, key) = certificates(&dir);
    for (mode, scheme) in [("starttls", "smtp"), ("tls", "smtps")] {
        let sink = SmtpSink::start_with(&[mode, &cert, &key, "relay-user", "s3cret;pass"]);
        let query = if mode == "starttls" {
            "?tls=required"
        } else {
            ""
        };
        let url = format!(
            "{scheme}://relay-user:s3cret%3Bpass@localhost:{}{query}",
            sink.port
        );
        let ca = ca.clone();
        let app = spawn_app_with(StoreConfig::memory(), move |s| {
            s.mail.smtp_url = url;
            s.mail.from = "Demo Motors <cflows@demo-motors.test>".into();
            s.mail.tls_ca_file = ca;
        })
        .await;
        app.org("Demo Motors", "owner@example.com").await;
        let (owner, csrf) = app.login("owner@example.com").await;
        let r = owner
            .post(app.url("/api/v1/members"))
            .header("x-csrf-token", &csrf)
            .json(&json!({"email": format!("new.{mode}@example.com"), "role": "member"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let mail = sink.wait_for(&format!("new.{mode}@example.com")).await;
        assert_eq!(mail["tls"], true, "{mode}: the message came over TLS");
        assert_eq!(mail["login"], "relay-user", "{mode}: after AUTH");
    }
    // A CA file with a plain-text URL is a start-up error that says what to write.
    let plain = spawn_app_with(StoreConfig::memory(), |_| {}).await;
    let mut settings = (*plain.state.settings).clone();
    settings.mail.smtp_url = "smtp://localhost:2525".into();
    settings.mail.tls_ca_file = ca.clone();
    let refused = cflows_web::mail::Mailer::new(&settings).err().unwrap();
    assert!(refused.contains("smtps://"), "{refused}");
    let _ = std::fs::remove_dir_all(&dir);
}

impl SmtpSink {
    /// Waits (up to `limit`) until every one of `everyone` got a message; then a little
    /// longer, so a repeat would have arrived too; returns each one's messages.
    async fn wait_for_all(&self, everyone: &[&str], limit: Duration) -> Vec<(String, Vec<Value>)> {
        let to = |m: &Value, who: &str| m["to"].as_str().unwrap_or("").contains(who);
        let deadline = Instant::now() + limit;
        loop {
            let got = self.messages();
            let missing: Vec<&&str> = everyone
                .iter()
                .filter(|who| !got.iter().any(|m| to(m, who)))
                .collect();
            if missing.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no mail arrived for {missing:?} ({} messages did)",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        let got = self.messages();
        everyone
            .iter()
            .map(|who| {
                let theirs = got.iter().filter(|m| to(m, who)).cloned().collect();
                (who.to_string(), theirs)
            })
            .collect()
    }
}

/// Waits (up to 40 s) until the outbox holds a message to each of `everyone` that was
/// tried and is still waiting (the mail server is down); returns them.
async fn tried_and_waiting(
    store: &cflows_actors::Store,
    everyone: &[&str],
) -> Vec<cflows_actors::store::OutboxRecord> {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let mut rows = Vec::new();
        for who in everyone {
            rows.extend(store.mail_to(who, 10).await.unwrap());
        }
        if rows.len() >= everyone.len()
            && everyone.iter().all(|who| {
                rows.iter()
                    .any(|r| r.mail.to == *who && r.attempts >= 1 && r.state == "queued")
            })
        {
            return rows;
        }
        let not_yet: Vec<String> = everyone
            .iter()
            .map(|who| {
                let theirs: Vec<_> = rows
                    .iter()
                    .filter(|r| r.mail.to == *who)
                    .map(|r| format!("{} after {} attempts", r.state, r.attempts))
                    .collect();
                format!("{who}: {theirs:?}")
            })
            .collect();
        assert!(
            Instant::now() < deadline,
            "not every message was tried and is waiting: {not_yet:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The mail server is down for a while: the messages wait in the outbox (tried, still
/// queued, the error kept); once it is back on its port every one arrives, exactly once,
/// with the `Message-ID` its outbox row decided. A message the server refuses for now
/// once it is back (`later.test`: the sink accepts the second attempt of a Message-ID)
/// arrives too: its retry carried the same Message-ID.
#[tokio::test]
async fn mail_queued_while_the_mail_server_is_down_arrives_once_when_it_is_back() {
    let port = free_port();
    let app = spawn_app_with(StoreConfig::memory(), move |s| {
        s.mail.smtp_url = format!("smtp://127.0.0.1:{port}");
        s.mail.from = "Demo Motors <cflows@demo-motors.test>".into();
        s.mail.retry_secs = 1;
    })
    .await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    app.member(&org, "mia@example.com", "Mia Sales", Role::Member)
        .await;
    let (owner, csrf) = app.login("owner@example.com").await;
    let invited = [
        "new.mechanic@example.com",
        "new.painter@example.com",
        "new.sales@example.com",
        "busy@later.test",
    ];
    for email in invited {
        let r = owner
            .post(app.url("/api/v1/members"))
            .header("x-csrf-token", &csrf)
            .json(&json!({"email": email, "role": "member"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let r = app
        .client()
        .post(app.url("/api/v1/password/forgot"))
        .json(&json!({"email": "mia@example.com"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let everyone: Vec<&str> = invited.into_iter().chain(["mia@example.com"]).collect();

    let store = app.core.directory.store();
    let waiting = tried_and_waiting(store, &everyone).await;
    assert_eq!(
        waiting.len(),
        everyone.len(),
        "one message each: {waiting:#?}"
    );
    assert!(
        waiting.iter().all(|r| r.last_error.is_some()),
        "why it waits is kept: {waiting:#?}"
    );
    let html = owner
        .get(app.url("/staff/mail"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("waiting to be sent"), "{html}");

    // The mail server comes back where it was.
    let sink = SmtpSink::start_on(port);
    let got = sink.wait_for_all(&everyone, Duration::from_secs(40)).await;
    for (who, theirs) in &got {
        assert_eq!(
            theirs.len(),
            1,
            "{who} got {} mails: {theirs:#?}",
            theirs.len()
        );
        let rows = store.mail_to(who, 10).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].state, "sent", "{who}: {:#?}", rows[0]);
        assert!(rows[0].attempts >= 2, "tried while down, then sent");
        assert_eq!(
            theirs[0]["message_id"],
            format!("<{}@127.0.0.1>", rows[0].id),
            "{who}'s Message-ID is its outbox row's"
        );
    }
    let later = &store.mail_to("busy@later.test", 1).await.unwrap()[0];
    assert!(
        later.attempts >= 3,
        "refused for now once the server was back, then sent: {later:#?}"
    );
    assert_eq!(sink.messages().len(), everyone.len());
}

/// Two nodes on one SurrealDB server, both sending mail to one mail server: twenty
/// invitations made on either node and the calendar mail of three confirmed bookings
/// (which every node derives from the journal, in rounds that start together as the
/// nodes do) each arrive exactly once. The mail server is down at first, so both nodes
/// keep finding every message due at once and race to claim it.
#[tokio::test]
async fn two_nodes_on_one_database_send_each_mail_once() {
    let Some(surreal) = crate::remote::start_surreal().await else {
        return;
    };
    let mut config = crate::remote::remote_config(surreal.port);
    config.database = "mail_once".into();
    let port = free_port();
    let node = |config: StoreConfig| {
        spawn_app_with(config, move |s| {
            s.mail.smtp_url = format!("smtp://127.0.0.1:{port}");
            s.mail.from = "Demo Motors <cflows@demo-motors.test>".into();
            s.mail.retry_secs = 1;
        })
    };
    let (a, b) = tokio::join!(node(config.clone()), node(config));
    let org = a.org("Demo Motors", "owner@example.com").await;
    let mut mechanics = Vec::new();
    for (email, name) in [
        ("max@example.com", "Max Mechanic"),
        ("lea@example.com", "Lea Painter"),
        ("ole@example.com", "Ole Fitter"),
    ] {
        mechanics.push(a.member(&org, email, name, Role::Member).await);
    }
    let (on_a, on_b) = (
        Api::login(&a, "owner@example.com").await,
        Api::login(&b, "owner@example.com").await,
    );

    // One admin's requests alternate between the nodes faster than the feed tells:
    // each is built on the last, none refused as a race.
    let invited: Vec<String> = (0..20).map(|i| format!("new{i}@example.com")).collect();
    for (i, email) in invited.iter().enumerate() {
        let node = if i % 2 == 0 { &on_a } else { &on_b };
        let r = node
            .send(
                reqwest::Method::POST,
                "/api/v1/members",
                json!({"email": email, "role": "member"}),
            )
            .await;
        let status = r.status();
        assert_eq!(
            status,
            StatusCode::CREATED,
            "{email}: {}",
            r.text().await.unwrap()
        );
    }
    let ids: Vec<&str> = mechanics.iter().map(|m| m.id.as_str()).collect();
    let (job, team) = on_a
        .workshop(
            120,
            json!({"name": "Workshop", "members": ids, "bookable_count": ids.len()}),
            "06:00",
            "20:00",
        )
        .await;
    let start = chrono::DateTime::parse_from_rfc3339("2027-06-15T08:00:00+02:00")
        .unwrap()
        .timestamp_millis();
    for (i, mechanic) in mechanics.iter().enumerate() {
        let at = start + i as i64 * 2 * 3_600_000;
        on_a.ok(
            reqwest::Method::POST,
            &format!("/api/v1/teams/{team}/bookings"),
            json!({"job_type": job, "start": at, "confirm": true, "assigned": [mechanic.id]}),
        )
        .await;
    }
    let mut everyone: Vec<&str> = invited.iter().map(String::as_str).collect();
    everyone.extend(["max@example.com", "lea@example.com", "ole@example.com"]);
    tried_and_waiting(a.core.directory.store(), &everyone).await;
    let sink = SmtpSink::start_on(port);
    let got = sink.wait_for_all(&everyone, Duration::from_secs(40)).await;
    for (who, theirs) in &got {
        assert_eq!(
            theirs.len(),
            1,
            "{who} got {} mails: {theirs:#?}",
            theirs.len()
        );
    }
    // Both nodes read the bookings' rows and both sent: still one of each.
    let all = sink.messages();
    let ids: std::collections::BTreeSet<&str> = all
        .iter()
        .map(|m| m["message_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), all.len(), "unique Message-IDs");
    assert_eq!(all.len(), everyone.len());
    for (who, theirs) in &got[invited.len()..] {
        assert!(
            theirs[0]["subject"]
                .as_str()
                .unwrap()
                .starts_with("Booked for you: Brake repair"),
            "{who}: {:#?}",
            theirs[0]
        );
    }
}

#[tokio::test]
async fn line_breaks_in_names_titles_and_addresses_never_become_mail_headers() {
    let sink = SmtpSink::start();
    let app = mail_app(&sink).await;
    let org = app.org("Demo Motors", "owner@example.com").await;
    let max = app
        .member(&org, "max@example.com", "Max Mechanic", Role::Member)
        .await;
    let api = Api::login(&app, "owner@example.com").await;
    let injected = "\r\nBcc: thief@evil.test\r\nSubject: pay now";
    // Refused where a line break has no business: an invited address, an
    // organization's name (the sender's name of its mail).
    let r = api
        .send(
            reqwest::Method::POST,
            "/api/v1/members",
            json!({"email": format!("new@example.com{injected}"), "role": "member"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = api
        .send(
            reqwest::Method::PATCH,
            "/api/v1/org",
            json!({"name": format!("Demo Motors{injected}")}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // A forgotten password answers as always (no account has that address: no mail).
    let r = api
        .send(
            reqwest::Method::POST,
            "/api/v1/password/forgot",
            json!({"email": format!("max@example.com{injected}")}),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    // Kept as text where people write freely (a booking's title, an event's title):
    // the mail's subject carries it on one line, encoded; no header is added, nobody
    // else receives it.
    let (job, team) = api
        .workshop(
            60,
            json!({"name": "Workshop", "members": [max.id], "bookable_count": 1}),
            "00:00",
            "24:00",
        )
        .await;
    let start = chrono::DateTime::parse_from_rfc3339("2027-06-15T08:00:00+02:00")
        .unwrap()
        .timestamp_millis();
    let r = api
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/teams/{team}/bookings"),
            json!({"job_type": job, "start": start, "confirm": true, "assigned": [max.id],
                   "title": format!("Brakes{injected}")}),
        )
        .await;
    let booked = r.status();
    let personal = get_json(&app, &api.client, "/api/v1/calendars").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = api
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/calendars/{personal}/events"),
            json!({"title": format!("Review{injected}"), "start": start, "end": start + 3_600_000,
                   "zone": "Europe/Berlin", "invitees": [max.id]}),
        )
        .await;
    let invited = r.status();
    let expected = usize::from(booked.is_success()) + usize::from(invited.is_success());
    assert!(expected > 0, "both refused: {booked} {invited}");
    let mails = sink.wait_for_n("max@example.com", expected).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = sink.messages();
    for m in &all {
        let headers = m["headers"].as_object().unwrap();
        assert!(!headers.contains_key("Bcc"), "{m:#}");
        assert_eq!(headers.get("Subject").map(|_| 1), Some(1));
        assert!(
            m["rcpt"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| !r.as_str().unwrap().contains("evil")),
            "{m:#}"
        );
        let subject = m["subject"].as_str().unwrap();
        assert!(
            !subject.contains('\n') && !subject.contains('\r'),
            "{subject:?}"
        );
        assert!(!subject.starts_with("pay now"), "{subject:?}");
    }
    assert!(
        all.iter()
            .all(|m| !m["to"].as_str().unwrap().contains("evil")),
        "nobody else received anything"
    );
    let _ = mails;
}
