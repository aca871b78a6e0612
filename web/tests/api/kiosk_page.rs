//! The board and a kiosk screen in two real browsers (headless Chromium): a card dragged
//! on the board moves on the kiosk; the server stops and starts again, and the kiosk
//! shows "reconnecting", then recovers by itself and keeps following the board.

use crate::browser::{browser, log_in, wait_for};
use crate::helpers::*;
use crate::workflows::shop;
use cflows_actors::{Core, Store, StoreConfig};
use cflows_web::{AppState, Settings};
use serde_json::{Value, json};
use std::time::Duration;

/// The server on `addr` over `store` until `stop` fires (then it shuts down as a
/// process would: sockets closed, actors stopped). The store outlives it, as a database
/// server does.
async fn serve_on(
    store: &Store,
    addr: &str,
) -> (
    Core,
    AppState,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let mut settings = Settings::default();
    settings.http.addr = addr.to_string();
    let core = Core::start_with(store.clone(), settings.kernel())
        .await
        .unwrap();
    let mut listener = None;
    for _ in 0..100 {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => {
                listener = Some(l);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state = AppState::new(settings, core.clone());
    let served = state.clone();
    let task = tokio::spawn(async move {
        cflows_web::serve(served, listener.expect("the port is free again"), async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    (core, state, stop, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dragged_card_moves_on_the_kiosk_which_survives_a_server_restart() {
    let Some((_driver_a, board)) = browser().await else {
        return;
    };
    let Some((_driver_b, kiosk)) = browser().await else {
        return;
    };
    let store = Store::open(&StoreConfig::memory()).await.unwrap();
    store.migrate().await.unwrap();
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let (core, state, stop, task) = serve_on(&store, &addr).await;
    let app = TestApp {
        addr: addr.clone(),
        core,
        state,
    };
    let s = shop(&app, "Demo Motors", "owner@example.com").await;
    let wf = s.id();
    let item: Value = s
        .post(
            &app,
            &format!("/api/v1/workflows/{wf}/items"),
            json!({"title": "Golf GTI", "data": {"vin": "W1"}}),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = item["id"].as_str().unwrap().to_string();
    let created: Value = s
        .post(
            &app,
            "/api/v1/kiosks",
            json!({"name": "Workshop", "scope": {"boards": [wf], "cycle_seconds": 3600}}),
        )
        .await
        .json()
        .await
        .unwrap();
    let link = created["link"].as_str().unwrap().to_string();

    // The kiosk shows the card in Request Test; the owner's board too.
    kiosk.goto(&app.url(&link)).await.unwrap();
    let on_kiosk = |step: &str| {
        format!(
            "return !!document.querySelector('#kiosk-view [data-step=\"{step}\"] [data-item=\"{id}\"]')"
        )
    };
    wait_for(&kiosk, &on_kiosk("request"), json!(true)).await;
    log_in(&board, &app, "owner@example.com").await;
    board
        .goto(&app.url(&format!("/boards/{wf}")))
        .await
        .unwrap();
    // The script has replaced the server-rendered cards with the stream's.
    wait_for(&board, "return document.body.dataset.board", json!("live")).await;
    wait_for(&board, &format!("return !!document.querySelector('ul.cards[data-step=\"request\"] [data-item=\"{id}\"]')"), json!(true)).await;

    // Drag the card to Test & Inspect.
    crate::journey::drag(
        &board,
        &format!("[data-item=\"{id}\"]"),
        "ul.cards[data-step=\"test\"]",
    )
    .await;
    wait_for(&kiosk, &on_kiosk("test"), json!(true)).await;
    let snap = get_json(&app, &s.owner, &format!("/api/v1/items/{id}")).await;
    assert_eq!(snap["item"]["step"], "test", "the server moved it");

    // The server stops: the kiosk keeps its data and says it is reconnecting.
    stop.send(()).unwrap();
    task.await.unwrap();
    wait_for(
        &kiosk,
        "return document.getElementById('kiosk-mark').hidden",
        json!(false),
    )
    .await;
    wait_for(&kiosk, &on_kiosk("test"), json!(true)).await;

    // It starts again (new actors, same database): the kiosk reconnects by itself and
    // follows the board again.
    let (core, state, _stop, _task) = serve_on(&store, &addr).await;
    let app = TestApp {
        addr: addr.clone(),
        core,
        state,
    };
    let (owner, csrf) = app.login("owner@example.com").await;
    let mut recovered = false;
    for _ in 0..200 {
        let v = kiosk
            .execute(
                "return document.getElementById('kiosk-mark').hidden",
                vec![],
            )
            .await
            .unwrap();
        if v == json!(true) {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "the kiosk reconnected within 20 s");
    let second: Value = owner
        .post(app.url(&format!("/api/v1/workflows/{wf}/items")))
        .header("x-csrf-token", &csrf)
        .json(&json!({"title": "Polo", "data": {"vin": "W2"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second_id = second["id"].as_str().unwrap();
    wait_for(
        &kiosk,
        &format!("return !!document.querySelector('#kiosk-view [data-step=\"request\"] [data-item=\"{second_id}\"]')"),
        json!(true),
    )
    .await;
    wait_for(&kiosk, &on_kiosk("test"), json!(true)).await;
    board.close().await.unwrap();
    kiosk.close().await.unwrap();
}
