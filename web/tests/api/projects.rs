//! Projects, tasks and attachments as clients use them: a task assigned over the API
//! reaches the assignee's notification stream and every viewer's project stream live;
//! another organization's ids answer exactly like missing ones; uploads are judged by
//! their content and refused ones leave nothing behind.

use crate::helpers::*;
use cflows_protocol::wire::{ClientMsg, Op, ReplyBody, ServerMsg, StreamEvent, StreamState};
use cflows_protocol::{
    InboxEvent, NotificationKind, ProjectEvent, ProjectId, Role, StreamName, TaskChange, UserId,
};
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(5);

async fn post(
    app: &TestApp,
    c: &reqwest::Client,
    csrf: &str,
    path: &str,
    body: Value,
) -> reqwest::Response {
    c.post(app.url(path))
        .header("x-csrf-token", csrf)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The next event of `stream` on `ws` (skipping others).
async fn next_event(ws: &mut cflows_load::client::Client, stream: &StreamName) -> StreamEvent {
    loop {
        if let ServerMsg::Event {
            stream: s, event, ..
        } = ws.recv_within(WAIT).await.unwrap()
            && &s == stream
        {
            return event;
        }
    }
}

async fn subscribe(ws: &mut cflows_load::client::Client, stream: StreamName) -> ServerMsg {
    ws.send(&ClientMsg::Subscribe {
        stream,
        after: None,
    })
    .await
    .unwrap();
    ws.recv_within(WAIT).await.unwrap()
}

#[tokio::test]
async fn a_task_assigned_reaches_the_assignee_live_and_strangers_see_nothing() {
    let app = spawn_app().await;
    let org = app.org("Showroom", "owner@show.test").await;
    let mia = app.member(&org, "mia@show.test", "Mia", Role::Member).await;
    let _bo = app.member(&org, "bo@show.test", "Bo", Role::Member).await;
    let (owner, csrf) = app.login("owner@show.test").await;

    let r = post(
        &app,
        &owner,
        &csrf,
        "/api/v1/projects",
        json!({
            "name": "Spring showroom event", "members": [mia.id],
        }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let project: Value = r.json().await.unwrap();
    let pid = project["id"].as_str().unwrap().to_string();
    assert_eq!(project["key"], "SSE");
    assert_eq!(project["statuses"][2]["done"], true);
    let stream = StreamName::Project(ProjectId::new(pid.clone()));

    // Mia watches her notifications and the project.
    let mut mia_ws = app.ws("mia@show.test").await;
    let inbox = StreamName::Inbox(UserId::new(mia.id.to_string()));
    assert!(matches!(
        subscribe(&mut mia_ws, inbox.clone()).await,
        ServerMsg::Snapshot { .. }
    ));
    let ServerMsg::Snapshot {
        state: StreamState::Project(snap),
        ..
    } = subscribe(&mut mia_ws, stream.clone()).await
    else {
        panic!("no project snapshot")
    };
    assert!(snap.tasks.is_empty());
    assert_eq!(snap.activity.len(), 1, "the creation is the first activity");

    let r = post(
        &app,
        &owner,
        &csrf,
        &format!("/api/v1/projects/{pid}/tasks"),
        json!({
            "title": "Order balloons", "assignee": mia.id, "due": "2026-12-01", "priority": "high",
        }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let task: Value = r.json().await.unwrap();
    assert_eq!(task["key"], "SSE-1");
    assert_eq!(task["status"], "todo");

    // Live on her project stream and in her inbox.
    let StreamEvent::Project(ProjectEvent::TaskAdded {
        task: added,
        activity,
    }) = next_event(&mut mia_ws, &stream).await
    else {
        panic!("no task_added")
    };
    assert_eq!(added.key, "SSE-1");
    assert!(activity.text.contains("created SSE-1"), "{}", activity.text);
    let StreamEvent::Inbox(InboxEvent::NotificationAdded { notification, .. }) =
        next_event(&mut mia_ws, &inbox).await
    else {
        panic!("no notification")
    };
    assert_eq!(notification.kind, NotificationKind::TaskAssigned);
    assert!(
        notification.title.contains("SSE-1"),
        "{}",
        notification.title
    );

    // She moves it over the socket; her open tasks follow.
    let tid = task["id"].as_str().unwrap().to_string();
    mia_ws
        .send(&ClientMsg::Request {
            id: 7,
            op: Op::UpdateTask {
                project: ProjectId::new(pid.clone()),
                task: tid.clone(),
                change: TaskChange {
                    status: Some("doing".into()),
                    ..TaskChange::default()
                },
            },
        })
        .await
        .unwrap();
    loop {
        match mia_ws.recv_within(WAIT).await.unwrap() {
            ServerMsg::Reply {
                id: 7,
                ok: Some(ReplyBody::Task { task }),
                ..
            } => {
                assert_eq!(task.status, "doing");
                break;
            }
            ServerMsg::Reply { id: 7, error, .. } => panic!("refused: {error:?}"),
            _ => {}
        }
    }
    let (mia_http, mia_csrf) = app.login("mia@show.test").await;
    let mine = get_json(&app, &mia_http, "/api/v1/me/tasks").await;
    assert_eq!(mine[0]["key"], "SSE-1");
    assert_eq!(mine[0]["status"], "doing");
    // A status that is not the project's is refused, naming the choices.
    let r = mia_http
        .patch(app.url(&format!("/api/v1/projects/{pid}/tasks/SSE-1")))
        .header("x-csrf-token", &mia_csrf)
        .json(&json!({"status": "shipped"}))
        .send()
        .await
        .unwrap();
    let (status, code, message) = error_code(r).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input")
    );
    assert!(message.contains("todo, doing, done"), "{message}");
    // Only project members may be assigned.
    let r = post(
        &app,
        &owner,
        &csrf,
        &format!("/api/v1/projects/{pid}/tasks"),
        json!({
            "title": "x", "assignee": _bo.id,
        }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // A member outside the project, and another organization: exactly like a missing id.
    let (bo, bo_csrf) = app.login("bo@show.test").await;
    app.org("Rival", "owner@rival.test").await;
    let (rival, rival_csrf) = app.login("owner@rival.test").await;
    let missing = "0192aaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut answers = Vec::new();
    for (who, c, t) in [("bo", &bo, &bo_csrf), ("rival", &rival, &rival_csrf)] {
        for id in [pid.as_str(), missing] {
            let get = c
                .get(app.url(&format!("/api/v1/projects/{id}")))
                .send()
                .await
                .unwrap();
            let patch = c
                .patch(app.url(&format!("/api/v1/projects/{id}/tasks/SSE-1")))
                .header("x-csrf-token", t)
                .json(&json!({"title": "mine now"}))
                .send()
                .await
                .unwrap();
            let comment = post(
                &app,
                c,
                t,
                &format!("/api/v1/projects/{id}/tasks/SSE-1/comments"),
                json!({"body": "hi"}),
            )
            .await;
            let upload = c
                .post(app.url(&format!("/api/v1/projects/{id}/tasks/SSE-1/attachments")))
                .header("x-csrf-token", t)
                .multipart(
                    Form::new().part("file", Part::bytes(b"hello".to_vec()).file_name("a.txt")),
                )
                .send()
                .await
                .unwrap();
            let mut got = Vec::new();
            for r in [get, patch, comment, upload] {
                let status = r.status();
                got.push((status, r.text().await.unwrap()));
            }
            answers.push((who, id == missing, got));
        }
    }
    for (who, _, got) in &answers {
        for (status, body) in got {
            assert_eq!(*status, StatusCode::NOT_FOUND, "{who}: {body}");
        }
    }
    assert!(
        answers.windows(2).all(|w| w[0].2 == w[1].2),
        "every answer is the same"
    );
    assert!(
        get_json(&app, &rival, "/api/v1/projects")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        get_json(&app, &bo, "/api/v1/projects")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
    let mut rival_ws = app.ws("owner@rival.test").await;
    for id in [pid.as_str(), missing] {
        let msg = subscribe(&mut rival_ws, StreamName::Project(ProjectId::new(id))).await;
        assert!(
            matches!(&msg, ServerMsg::Error { error, .. } if error.code == cflows_protocol::ErrorCode::NotFound),
            "{msg:?}"
        );
    }

    // Mentions notify; the comment is part of the task for every viewer.
    let r = post(
        &app,
        &owner,
        &csrf,
        &format!("/api/v1/projects/{pid}/tasks/SSE-1/comments"),
        json!({"body": "@mia the blue ones"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    loop {
        if let StreamEvent::Inbox(InboxEvent::NotificationAdded { notification, .. }) =
            next_event(&mut mia_ws, &inbox).await
            && notification.kind == NotificationKind::Mention
        {
            break;
        }
    }
    let t = get_json(
        &app,
        &mia_http,
        &format!("/api/v1/projects/{pid}/tasks/SSE-1"),
    )
    .await;
    assert_eq!(t["comments"][0]["body"], "@mia the blue ones");
}

/// Every file under `dir`.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A plain PNG picture of `width` × `height` px.
pub(crate) fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(width, height, image::Rgb([10, 120, 200]));
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_be_bytes());
}

/// A PNG that claims `width`×`height` pixels of `colour` type at `depth` bits, with
/// `rows` rows of zeros compressed (all of them: a real bomb; fewer: a cut one).
fn bomb(width: u32, height: u32, depth: u8, colour: u8, rows: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[depth, colour, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    let channels = if colour == 6 { 4 } else { 1 };
    let row_bytes = (width as usize * channels * depth as usize).div_ceil(8) + 1;
    let row = vec![0u8; row_bytes];
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    for _ in 0..rows {
        z.write_all(&row).unwrap();
    }
    chunk(&mut out, b"IDAT", &z.finish().unwrap());
    chunk(&mut out, b"IEND", &[]);
    out
}

/// What is uploaded, under which name and claimed type, and what must come back.
type Refused = (
    &'static str,
    &'static str,
    Vec<u8>,
    &'static str,
    StatusCode,
    &'static str,
);

#[tokio::test]
async fn uploads_are_judged_by_content_and_refusals_leave_nothing() {
    let app = spawn_app_with(cflows_actors::StoreConfig::memory(), |s| {
        s.uploads.max_bytes = 3 * 1024 * 1024;
    })
    .await;
    app.org("Files", "owner@files.test").await;
    let (owner, csrf) = app.login("owner@files.test").await;
    let project: Value = post(
        &app,
        &owner,
        &csrf,
        "/api/v1/projects",
        json!({"name": "Photos"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let pid = project["id"].as_str().unwrap();
    for title in ["Front", "Back"] {
        let r = post(
            &app,
            &owner,
            &csrf,
            &format!("/api/v1/projects/{pid}/tasks"),
            json!({"title": title}),
        )
        .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let upload = |task: &'static str, name: &'static str, bytes: Vec<u8>, claimed: &'static str| {
        let form = Form::new().part(
            "file",
            Part::bytes(bytes)
                .file_name(name)
                .mime_str(claimed)
                .unwrap(),
        );
        owner
            .post(app.url(&format!("/api/v1/projects/{pid}/tasks/{task}/attachments")))
            .header("x-csrf-token", &csrf)
            .multipart(form)
            .send()
    };
    let dir = app.core.kernel.files().dir().to_path_buf();

    let refused: Vec<Refused> = vec![
        ("oversized", "big.png", vec![7u8; 3 * 1024 * 1024 + 1], "image/png", StatusCode::PAYLOAD_TOO_LARGE, "larger than the limit"),
        ("wrong magic bytes", "photo.png", b"\x00\x01\x02\x03not an image at all\xff\xfe".to_vec(), "image/png", StatusCode::UNPROCESSABLE_ENTITY, "no accepted type"),
        ("HTML named .png", "innocent.png", b"<!doctype html><html><script>fetch('/api/v1/me')</script></html>".to_vec(), "image/png", StatusCode::UNPROCESSABLE_ENTITY, "HTML"),
        ("SVG with a script", "logo.svg", br#"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>"#.to_vec(), "image/svg+xml", StatusCode::UNPROCESSABLE_ENTITY, "SVG"),
        ("path traversal", "../../../etc/cron.d/x.png", png(8, 8), "image/png", StatusCode::UNPROCESSABLE_ENTITY, "path"),
        ("a decompression bomb", "bomb.png", bomb(20_000, 20_000, 1, 0, 20_000), "image/png", StatusCode::UNPROCESSABLE_ENTITY, "20000×20000"),
        ("a bomb within the side limit", "bomb2.png", bomb(11_000, 11_000, 16, 6, 4), "image/png", StatusCode::UNPROCESSABLE_ENTITY, "256 MiB decoded"),
        ("a cut image", "cut.png", { let p = png(64, 64); p[..p.len() - 20].to_vec() }, "image/png", StatusCode::UNPROCESSABLE_ENTITY, "could not be read"),
    ];
    for (what, name, bytes, claimed, status, says) in refused {
        let size = bytes.len();
        let r = upload("P-1", name, bytes, claimed).await.unwrap();
        let (got, code, message) = error_code(r).await;
        assert_eq!(got, status, "{what} ({size} bytes): {message}");
        assert_eq!(code, "invalid_input", "{what}");
        assert!(message.contains(says), "{what}: {message}");
    }
    assert!(
        files_under(&dir).is_empty(),
        "refused uploads left {:?}",
        files_under(&dir)
    );
    let snap = get_json(&app, &owner, &format!("/api/v1/projects/{pid}")).await;
    assert!(
        snap["tasks"][0]["attachments"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // A real photo: kept by hash, with a thumbnail, served inline with the safe headers.
    let photo = png(800, 600);
    let r = upload(
        "P-1",
        "Front bumper ünd dent.png",
        photo.clone(),
        "application/octet-stream",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let a: Value = r.json().await.unwrap();
    assert_eq!(a["content_type"], "image/png");
    assert_eq!(a["thumbnail"], true);
    let id = a["id"].as_str().unwrap().to_string();
    let download = |id: &str| {
        owner
            .get(app.url(&format!("/api/v1/attachments/{id}")))
            .send()
    };
    let r = download(&id).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );
    let cd = h["content-disposition"].to_str().unwrap();
    assert!(
        cd.starts_with("inline; filename=\"Front bumper _nd dent.png\""),
        "{cd}"
    );
    assert!(
        cd.contains("filename*=UTF-8''Front%20bumper%20%C3%BCnd%20dent.png"),
        "{cd}"
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), photo.as_slice());
    let r = owner
        .get(app.url(&format!("/api/v1/attachments/{id}/thumbnail")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    let thumb = image::load_from_memory(&r.bytes().await.unwrap()).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (320, 240));
    // Stored under its hash, never its name.
    let sha = a["sha256"].as_str().unwrap();
    let stored = files_under(&dir);
    assert!(
        stored
            .iter()
            .all(|p| p.file_name().unwrap().to_str().unwrap().starts_with(sha)),
        "{stored:?}"
    );

    // Text is only ever downloaded.
    let r = upload(
        "P-2",
        "notes.txt",
        b"VIN WVW123, 42000 km\n".to_vec(),
        "text/html",
    )
    .await
    .unwrap();
    let t: Value = r.json().await.unwrap();
    let r = download(t["id"].as_str().unwrap()).await.unwrap();
    assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );

    // The same photo on the other task shares the bytes; deleting one keeps them.
    let r = upload("P-2", "copy.png", photo.clone(), "image/png")
        .await
        .unwrap();
    let copy: Value = r.json().await.unwrap();
    assert_eq!(copy["sha256"], a["sha256"]);
    let del = |id: String| {
        owner
            .delete(app.url(&format!("/api/v1/attachments/{id}")))
            .header("x-csrf-token", &csrf)
            .send()
    };
    assert_eq!(
        del(id.clone()).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert!(
        app.core.kernel.files().exists(sha).await,
        "still used by the copy"
    );
    let r = download(copy["id"].as_str().unwrap()).await.unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), photo.as_slice());
    assert_eq!(del(id).await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(
        del(copy["id"].as_str().unwrap().to_string())
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    assert!(
        !app.core.kernel.files().exists(sha).await,
        "no one uses them any more"
    );
}

/// A viewer's project page follows changes made elsewhere without a reload, and the
/// page's own forms work (here: a new task, then a file through the upload form).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_project_page_is_live_in_a_real_browser() {
    use crate::browser::{browser, click, log_in, type_into, wait_for};
    use fantoccini::Locator;
    let Some((_driver, c)) = browser().await else {
        return;
    };
    let app = spawn_app().await;
    let org = app.org("Live", "owner@live.test").await;
    let mia = app.member(&org, "mia@live.test", "Mia", Role::Member).await;
    let (owner, csrf) = app.login("owner@live.test").await;
    let project: Value = post(
        &app,
        &owner,
        &csrf,
        "/api/v1/projects",
        json!({"name": "Spring showroom event", "members": [mia.id]}),
    )
    .await
    .json()
    .await
    .unwrap();
    let pid = project["id"].as_str().unwrap().to_string();
    log_in(&c, &app, "mia@live.test").await;
    c.goto(&app.url(&format!("/projects/{pid}"))).await.unwrap();
    wait_for(
        &c,
        "return document.body.dataset.project || null",
        json!("live"),
    )
    .await;
    let r = post(
        &app,
        &owner,
        &csrf,
        &format!("/api/v1/projects/{pid}/tasks"),
        json!({"title": "Order balloons", "assignee": mia.id}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    wait_for(
        &c,
        "return [...document.querySelectorAll('#project-live li.tcard')].map(e => e.textContent.includes('Order balloons')).includes(true)",
        json!(true),
    )
    .await;
    // Open it, attach a photo through the form.
    click(&c, "#project-live li.tcard a").await;
    let photo = std::env::temp_dir().join(format!("cflows-{}.png", cflows_actors::store::new_id()));
    std::fs::write(&photo, png(120, 80)).unwrap();
    type_into(&c, "#file-upload", photo.to_str().unwrap()).await;
    c.find(Locator::Css("#file-upload"))
        .await
        .unwrap()
        .find(Locator::XPath("./following-sibling::button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(
        &c,
        "return document.querySelectorAll('ul.attachments img').length",
        json!(1),
    )
    .await;
    wait_for(
        &c,
        "return document.querySelector('.notice')?.textContent.includes('File attached') ?? false",
        json!(true),
    )
    .await;
    c.close().await.unwrap();
}

/// Image decodes are bounded: an upload that finds every decoder busy waits its turn up
/// to the limit, then answers 503 with `Retry-After`, keeping nothing; with a free
/// decoder the same upload is kept.
#[tokio::test]
async fn image_uploads_wait_for_a_decoder_and_answer_503_when_none_comes() {
    let app = spawn_app_with(cflows_actors::StoreConfig::memory(), |s| {
        s.uploads.decodes = 1;
        s.uploads.decode_wait_secs = 1;
    })
    .await;
    app.org("Files", "owner@files.test").await;
    let (owner, csrf) = app.login("owner@files.test").await;
    let project: Value = post(
        &app,
        &owner,
        &csrf,
        "/api/v1/projects",
        json!({"name": "Photos"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let pid = project["id"].as_str().unwrap();
    let r = post(
        &app,
        &owner,
        &csrf,
        &format!("/api/v1/projects/{pid}/tasks"),
        json!({"title": "Front"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let upload = || {
        let form = Form::new().part("file", Part::bytes(png(64, 48)).file_name("front.png"));
        owner
            .post(app.url(&format!("/api/v1/projects/{pid}/tasks/P-1/attachments")))
            .header("x-csrf-token", &csrf)
            .multipart(form)
            .send()
    };
    let files = app.core.kernel.files().clone();
    let busy = files.decode_turn().await.unwrap();
    let r = upload().await.unwrap();
    assert_eq!(r.headers()["retry-after"], "5");
    let (status, code, message) = error_code(r).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    );
    assert!(message.contains("try again"), "{message}");
    assert!(
        files_under(files.dir()).is_empty(),
        "a refused upload keeps nothing"
    );
    drop(busy);
    assert_eq!(upload().await.unwrap().status(), StatusCode::CREATED);
}
