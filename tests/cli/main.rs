//! Tests of the `cflows` binary as an operator runs it: real processes, a real surrealkv
//! database on disk, real HTTP. Covers first start, durability across `kill -9`, the
//! single-process lock, migration checksum refusal, graceful shutdown and `check`.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const DEMO_PASSWORD: &str = "demo password for tests";

fn cflows(data: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cflows"));
    cmd.env("CFLOWS_DATA_DIR", data)
        .env("CFLOWS_HTTP__ADDR", "127.0.0.1:0")
        .env("CFLOWS_DEMO_PASSWORD", DEMO_PASSWORD)
        .env("RUST_LOG", "warn")
        .env_remove("CFLOWS_DATABASE__URL")
        .current_dir(data);
    cmd
}

/// A running `cflows serve`, with the address it printed and everything it printed before.
struct Server {
    child: Child,
    addr: String,
    printed: Vec<String>,
}

fn start(data: &Path) -> Server {
    start_with(cflows(data))
}

/// `cmd serve`, once it listens.
fn start_with(mut cmd: Command) -> Server {
    let child = cmd
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Server {
        child,
        addr: String::new(),
        printed: Vec::new(),
    };
    let mut lines = BufReader::new(server.child.stdout.take().unwrap()).lines();
    loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .unwrap();
        server.printed.push(line.clone());
        if let Some(rest) = line.strip_prefix("cflows listening on http://") {
            server.addr = rest.split_whitespace().next().unwrap().to_string();
            // Keep draining stdout so the server never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            return server;
        }
    }
}

/// A server left running by a failed test is killed, not leaked.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn login(addr: &str) -> (reqwest::Client, String) {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let resp = client
        .post(format!("http://{addr}/api/v1/session"))
        .json(&json!({"email": "admin@demo-motors.example", "password": DEMO_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let token = resp.json::<Value>().await.unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_string();
    (client, token)
}

async fn team_names(client: &reqwest::Client, addr: &str) -> Vec<String> {
    let teams: Vec<Value> = client
        .get(format!("http://{addr}/api/v1/teams"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    teams
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path());
    assert!(
        server
            .printed
            .iter()
            .any(|l| l.contains("email: admin@demo-motors.example") && l.contains(DEMO_PASSWORD)),
        "first start prints the demo login: {:?}",
        server.printed
    );
    let (client, token) = login(&server.addr).await;
    let mut acknowledged = Vec::new();
    for i in 0..20 {
        let name = format!("Durable {i}");
        let r = client
            .post(format!("http://{}/api/v1/teams", server.addr))
            .header("x-csrf-token", &token)
            .json(&json!({"name": name}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        acknowledged.push(name);
    }
    // No graceful anything: SIGKILL right after the last acknowledgement.
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    let mut again = start(dir.path());
    assert!(
        !again.printed.iter().any(|l| l.contains("password:")),
        "the demo is seeded only once"
    );
    let (client, _) = login(&again.addr).await;
    let names = team_names(&client, &again.addr).await;
    for name in &acknowledged {
        assert!(
            names.contains(name),
            "{name} was acknowledged but lost after kill -9"
        );
    }
    again.child.kill().unwrap();
    again.child.wait().unwrap();

    let check = cflows(dir.path()).arg("check").output().unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}

#[tokio::test]
async fn a_second_process_is_refused_while_the_server_holds_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path());
    for args in [
        &["check"][..],
        &["migrate"],
        &["demo"],
        &[
            "create-user",
            "--email",
            "x@example.com",
            "--name",
            "X",
            "--password",
            "long enough pw",
        ],
    ] {
        let out = cflows(dir.path()).args(args).output().unwrap();
        assert!(
            !out.status.success(),
            "{args:?} ran against a held database"
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("in use by another cflows process"),
            "{args:?}: {err}"
        );
    }
    // The server is unharmed.
    let (client, _) = login(&server.addr).await;
    assert_eq!(team_names(&client, &server.addr).await.len(), 4);
    // SIGTERM: a graceful stop that exits cleanly.
    Command::new("kill")
        .arg("-TERM")
        .arg(server.child.id().to_string())
        .status()
        .unwrap();
    let status = wait_with_timeout(&mut server.child, Duration::from_secs(20));
    assert!(
        status.success(),
        "graceful shutdown exit status: {status:?}"
    );
}

fn wait_with_timeout(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(start.elapsed() < limit, "process did not stop in time");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `cflows {setup}` on a fresh data dir, then writes `sql` straight into its
/// database, as damage from outside cflows would.
async fn damaged(dir: &Path, setup: &str, sql: &str) {
    let out = cflows(dir).arg(setup).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = cflows_actors::StoreConfig {
        url: format!("surrealkv://{}", dir.join("cflows.db").display()),
        ..cflows_actors::StoreConfig::memory()
    };
    let store = cflows_actors::Store::open(&config).await.unwrap();
    store.tamper_for_tests(sql).await.unwrap();
}

/// Runs `cflows {command}` once the embedded engine a test opened has released its lock
/// (it closes in the background after its last handle is dropped; bounded wait).
async fn when_unlocked(dir: &Path, command: &str) -> std::process::Output {
    for _ in 0..100 {
        let out = cflows(dir).arg(command).output().unwrap();
        if !String::from_utf8_lossy(&out.stderr).contains("already locked") {
            return out;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the database stayed locked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_migration_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    // Simulate an applied file that was edited afterwards: its recorded checksum differs.
    damaged(
        dir.path(),
        "migrate",
        "UPDATE migration SET checksum = 'edited' WHERE name = '0001_init.surql';",
    )
    .await;
    let out = when_unlocked(dir.path(), "serve").await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains("0001_init.surql") && err.contains("checksum"),
        "{err}"
    );
}

#[test]
fn cli_commands_create_orgs_and_users() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = cflows(dir.path()).args(args).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, out, _) = run(&[
        "create-user",
        "--email",
        "olga@example.com",
        "--name",
        "Olga",
        "--password",
        "long enough pw",
    ]);
    assert!(ok && out.contains("created user olga@example.com"), "{out}");
    let (ok, out, _) = run(&[
        "create-org",
        "--name",
        "Olga's Garage",
        "--timezone",
        "Europe/Vienna",
        "--owner",
        "olga@example.com",
    ]);
    assert!(ok && out.contains("slug olga-s-garage"), "{out}");
    let (ok, out, _) = run(&[
        "create-user",
        "--email",
        "ivan@example.com",
        "--name",
        "Ivan",
        "--password",
        "long enough pw",
        "--org",
        "olga-s-garage",
        "--role",
        "admin",
    ]);
    assert!(ok && out.contains("as admin"), "{out}");
    let (ok, _, err) = run(&["create-org", "--name", "Bad", "--timezone", "Nowhere/Land"]);
    assert!(!ok && err.contains("Nowhere/Land"), "{err}");
    let (ok, _, err) = run(&[
        "create-user",
        "--email",
        "olga@example.com",
        "--name",
        "Dup",
        "--password",
        "long enough pw",
    ]);
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, _, err) = run(&[
        "create-user",
        "--email",
        "z@example.com",
        "--name",
        "Z",
        "--password",
        "long enough pw",
        "--org",
        "no-such-org",
    ]);
    assert!(
        !ok && err.contains("no organization with slug no-such-org"),
        "{err}"
    );
    let (ok, out, _) = run(&["demo"]);
    assert!(ok && out.contains("password:"), "{out}");
    let (ok, out, _) = run(&["demo"]);
    assert!(ok && out.contains("already exists"), "{out}");
    let (ok, out, _) = run(&["check"]);
    assert!(ok && out.contains("ok"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_resumes_across_a_server_restart() {
    use cflows_load::client::Client;
    use cflows_protocol::wire::{ClientMsg, ServerMsg, StreamPosition};
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let session = login_ws(&server.addr).await;
    let (mut c, welcome) = Client::connect(&server.addr, &session, None, vec![])
        .await
        .unwrap();
    let ServerMsg::Welcome { org: Some(org), .. } = welcome else {
        panic!("{welcome:?}")
    };
    let stream = cflows_protocol::StreamName::Org(org);
    c.send(&ClientMsg::Subscribe {
        stream: stream.clone(),
        after: None,
    })
    .await
    .unwrap();
    let seen = loop {
        if let ServerMsg::Snapshot { seq, .. } =
            c.recv_within(Duration::from_secs(10)).await.unwrap()
        {
            break seq;
        }
    };
    // Changes the client does not see: it is gone, then the server restarts.
    drop(c);
    let (http, csrf) = login(&server.addr).await;
    for name in ["Night shift", "Weekend crew"] {
        let r = http
            .post(format!("http://{}/api/v1/teams", server.addr))
            .header("x-csrf-token", &csrf)
            .json(&json!({"name": name}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    drop(server); // SIGKILL: the hub's memory is gone, only the journal remains.

    let again = start(dir.path());
    let session = login_ws(&again.addr).await;
    let (mut c, _) = Client::connect(
        &again.addr,
        &session,
        None,
        vec![StreamPosition {
            stream: stream.clone(),
            seq: seen,
        }],
    )
    .await
    .unwrap();
    let mut got = Vec::new();
    while got.len() < 2 {
        if let ServerMsg::Event { seq, .. } = c.recv_within(Duration::from_secs(10)).await.unwrap()
        {
            got.push(seq);
        }
    }
    assert_eq!(
        got,
        vec![seen + 1, seen + 2],
        "missed events replayed from the journal, in order, once"
    );
}

async fn login_ws(addr: &str) -> cflows_load::client::Session {
    cflows_load::client::login(addr, "admin@demo-motors.example", DEMO_PASSWORD)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_a_stored_value_that_does_not_parse() {
    let dir = tempfile::tempdir().unwrap();
    // A foreign write the actors would never make: a notification of an unknown kind.
    damaged(
        dir.path(),
        "demo",
        "CREATE notification:bad CONTENT { user: 'u', org: 'o', kind: 'carrier_pigeon', title: 't', body: '', link: '/', entity_kind: NULL, entity_id: NULL, from: NULL, created_at: 1, updated_at: 1, count: 1, read: false };",
    )
    .await;
    let out = when_unlocked(dir.path(), "check").await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("notification row bad does not parse") && stdout.contains("carrier_pigeon"),
        "{stdout}"
    );
}

#[test]
fn export_then_import_restores_an_organization_and_refuses_a_damaged_document() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ok = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    ok(cflows(a.path()).arg("demo").output().unwrap());
    let doc = a.path().join("demo.json");
    ok(cflows(a.path())
        .args(["export", "--org", "demo-motors", "--out"])
        .arg(&doc)
        .output()
        .unwrap());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&doc).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the document holds password hashes");
    }
    // A truncated copy is refused with nothing written.
    let text = std::fs::read(&doc).unwrap();
    let cut = b.path().join("cut.json");
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    let out = cflows(b.path()).arg("import").arg(&cut).output().unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("nothing was imported"), "{said}");
    // The whole one restores; the database is sound and the demo admin logs in.
    let printed = ok(cflows(b.path()).arg("import").arg(&doc).output().unwrap());
    assert!(printed.contains("imported demo-motors"), "{printed}");
    assert!(ok(cflows(b.path()).arg("check").output().unwrap()).contains("ok"));
    // Again: it exists now. As a new organization: fine.
    let out = cflows(b.path()).arg("import").arg(&doc).output().unwrap();
    assert!(!out.status.success());
    ok(cflows(b.path())
        .arg("import")
        .arg(&doc)
        .args(["--as", "demo-copy", "--name", "Demo Copy"])
        .output()
        .unwrap());
    let server = start(b.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (client, _) = login(&server.addr).await;
        let projects: Value = client
            .get(format!("http://{}/api/v1/projects", server.addr))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(projects[0]["name"], "Spring showroom event");
    });
}

/// The mail tests' SMTP server (aiosmtpd, `web/tests/smtp/sink.py`): every message it
/// accepts is written to `dir` as JSON.
struct SmtpSink {
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpSink {
    fn start_on(port: u16) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/web/tests/smtp/sink.py");
        let mut child = Command::new("python3")
            .args([script, &port.to_string(), dir.path().to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the SMTP sink (pip install aiosmtpd icalendar; .ci/run does)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP sink did not start");
        Self { child, dir }
    }

    /// The messages received so far to `to`.
    fn messages_to(&self, to: &str) -> Vec<Value> {
        std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .map(|e| serde_json::from_slice::<Value>(&std::fs::read(e.path()).unwrap()).unwrap())
            .filter(|m| m["to"].as_str().unwrap_or("").contains(to))
            .collect()
    }
}

/// `cflows serve` on `data`, its mail going to `smtp` and retried after a second.
fn start_mailing(data: &Path, smtp: &str) -> Server {
    let mut cmd = cflows(data);
    cmd.env("CFLOWS_MAIL__SMTP_URL", smtp)
        .env("CFLOWS_MAIL__RETRY_SECS", "1");
    start_with(cmd)
}

/// The row of `/staff/mail` (the demo organization's messages) that names `who`.
async fn mail_row(client: &reqwest::Client, addr: &str, who: &str) -> Option<String> {
    let page = client
        .get(format!("http://{addr}/staff/mail"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    page.split("<tr")
        .find(|row| row.contains(who))
        .map(str::to_string)
}

/// A server killed with SIGKILL while one message was being sent (the mail server took
/// the connection and never answered) and another waited behind it: the next start on
/// the same data, with the mail server up, sends both, once each: the waiting one at
/// once, the one under way when its dead node's claim runs out (a minute).
#[tokio::test]
async fn mail_queued_before_kill_9_is_sent_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    // Accepts connections (the kernel does) and never says a word.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("smtp://{}", silent.local_addr().unwrap());
    let mut server = start_mailing(dir.path(), &silent_url);
    let (client, token) = login(&server.addr).await;
    let invite = |email: &'static str| {
        client
            .post(format!("http://{}/api/v1/members", server.addr))
            .header("x-csrf-token", &token)
            .json(&json!({"email": email, "role": "member"}))
            .send()
    };
    let under_way = "under.way@example.com";
    let waiting = "waiting@example.com";
    assert_eq!(invite(under_way).await.unwrap().status(), 201);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let row = mail_row(&client, &server.addr, under_way).await;
        if row.as_deref().is_some_and(|r| r.contains("being sent")) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{row:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(invite(waiting).await.unwrap().status(), 201);
    let row = mail_row(&client, &server.addr, waiting).await;
    assert!(
        row.as_deref()
            .is_some_and(|r| r.contains("waiting to be sent")),
        "{row:?}"
    );
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(silent);

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sink = SmtpSink::start_on(port);
    let again = start_mailing(dir.path(), &format!("smtp://127.0.0.1:{port}"));
    let everyone = [waiting, under_way];
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while everyone.iter().any(|who| sink.messages_to(who).is_empty()) {
        assert!(
            std::time::Instant::now() < deadline,
            "not sent after the restart: {:?}",
            everyone.map(|who| (who, sink.messages_to(who).len()))
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    for who in everyone {
        let got = sink.messages_to(who);
        assert_eq!(got.len(), 1, "{who}: {got:#?}");
        assert!(
            got[0]["subject"]
                .as_str()
                .unwrap()
                .contains("invites you to Demo Motors"),
            "{:#?}",
            got[0]
        );
    }
    drop(again);
}
