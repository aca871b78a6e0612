//! Export → import round trips on the real engine (`mem://`): every record and journal
//! row comes back; a truncated, tampered or inconsistent document writes nothing.

use super::*;
use crate::Core;
use crate::testing::memory_store;

fn files() -> Files {
    Files::new(
        std::env::temp_dir().join(format!("cflows-portable-{}", new_id())),
        1 << 20,
    )
}

/// The demo organization with an attachment, exported.
async fn exported() -> (Store, Files, ExportDoc) {
    let store = memory_store().await;
    let core = Core::start(store.clone()).await.unwrap();
    crate::demo::seed(&core.directory, "long enough pw")
        .await
        .unwrap()
        .unwrap();
    let files = core.kernel.files().clone();
    let org = store
        .org_by_slug(crate::demo::DEMO_SLUG)
        .await
        .unwrap()
        .unwrap();
    // A task with a file.
    let by = crate::team_calendar::Booker {
        user: cflows_protocol::UserId::new("system"),
        name: "System".into(),
        admin: true,
    };
    let project = crate::project::projects_of(
        &core.kernel,
        &cflows_protocol::OrgId::new(org.id.clone()),
        &by,
    )
    .await
    .unwrap()
    .remove(0);
    let handle = crate::project::ProjectHandle::new(
        &core.kernel,
        &cflows_protocol::OrgId::new(org.id.clone()),
        &project.id,
        by,
    );
    let kept = files
        .keep("route.txt", b"Left at the lights, then the hill.".to_vec())
        .await
        .unwrap();
    handle.attach("SSE-5".into(), kept).await.unwrap();
    let doc = export(&store, &files, crate::demo::DEMO_SLUG)
        .await
        .unwrap();
    core.shutdown().await;
    (store, files, doc)
}

fn without_time(mut d: ExportDoc) -> ExportDoc {
    d.exported_at = String::new();
    d.sha256 = String::new();
    d
}

#[tokio::test]
async fn an_organization_round_trips_into_a_fresh_database() {
    let (_, _, doc) = exported().await;
    for table in [
        "org",
        "user",
        "membership",
        "team",
        "booking",
        "workflow",
        "work_item",
        "item_entry",
        "project",
        "task",
        "attachment",
    ] {
        assert!(!doc.tables[table].is_empty(), "the demo has {table} rows");
    }
    assert!(doc.journal.len() > 50);
    assert_eq!(doc.files.len(), 1);
    let text = serde_json::to_string(&doc).unwrap();

    let fresh = memory_store().await;
    let fresh_files = files();
    let got = import(&fresh, &fresh_files, parse(&text).unwrap(), ImportAs::Same)
        .await
        .unwrap();
    assert_eq!(got.journal_rows, doc.journal.len());
    let again = export(&fresh, &fresh_files, crate::demo::DEMO_SLUG)
        .await
        .unwrap();
    assert_eq!(
        without_time(again),
        without_time(doc.clone()),
        "every record and journal row"
    );

    // The restored organization works: its actors load from what was imported.
    let core = Core::start(fresh.clone()).await.unwrap();
    let org = cflows_protocol::OrgId::new(doc.org.clone());
    let by = crate::team_calendar::Booker {
        user: cflows_protocol::UserId::new("system"),
        name: "System".into(),
        admin: true,
    };
    let projects = crate::project::projects_of(&core.kernel, &org, &by)
        .await
        .unwrap();
    let snap = crate::project::ProjectHandle::new(&core.kernel, &org, &projects[0].id, by.clone())
        .snapshot()
        .await
        .unwrap();
    assert_eq!(snap.tasks.len(), 6);
    assert!(
        !snap.activity.is_empty(),
        "the feed is the imported journal"
    );
    let t = crate::project::ProjectHandle::new(&core.kernel, &org, &projects[0].id, by)
        .create_task(cflows_protocol::NewTask {
            title: "After the restore".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(t.key, "SSE-7", "numbering goes on");
    let sha = &snap.tasks[4].attachments[0].sha256;
    assert_eq!(
        fresh_files.read(sha, false).await.unwrap(),
        b"Left at the lights, then the hill."
    );

    // The same document again: the organization exists.
    let err = import(&fresh, &fresh_files, parse(&text).unwrap(), ImportAs::Same)
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::Conflict(_)), "{err}");
    core.shutdown().await;
}

#[tokio::test]
async fn a_copy_as_a_new_organization_gets_new_ids_beside_the_original() {
    let (store, files, doc) = exported().await;
    let text = serde_json::to_string(&doc).unwrap();
    let got = import(
        &store,
        &files,
        parse(&text).unwrap(),
        ImportAs::New {
            slug: "demo-copy".into(),
            name: Some("Demo Copy".into()),
        },
    )
    .await
    .unwrap();
    assert_ne!(got.org, doc.org);
    let copy = export(&store, &files, "demo-copy").await.unwrap();
    let original = export(&store, &files, crate::demo::DEMO_SLUG)
        .await
        .unwrap();
    assert_eq!(
        without_time(original),
        without_time(doc.clone()),
        "the original is untouched"
    );
    for (table, rows) in &doc.tables {
        let expected = if ["kiosk", "feed", "invitation", "notification"].contains(&table.as_str())
        {
            0
        } else {
            rows.len()
        };
        assert_eq!(copy.tables[table].len(), expected, "{table}");
    }
    assert_eq!(copy.journal.len(), doc.journal.len());
    // No id of the original survives in the copy (people keep their accounts).
    let users: Vec<&str> = doc.tables["user"]
        .iter()
        .filter_map(|u| u["id"].as_str())
        .collect();
    let copy_text = serde_json::to_string(&copy.tables).unwrap()
        + &serde_json::to_string(&copy.journal).unwrap();
    for (table, rows) in &doc.tables {
        if table == "user" {
            continue;
        }
        for row in rows {
            let id = row["id"].as_str().unwrap();
            if !users.contains(&id) {
                assert!(!copy_text.contains(id), "{table}:{id} leaked into the copy");
            }
        }
    }
}

#[tokio::test]
async fn a_truncated_tampered_or_inconsistent_document_writes_nothing() {
    let (_, _, doc) = exported().await;
    let text = serde_json::to_string(&doc).unwrap();
    let fresh = memory_store().await;
    let fresh_files = files();

    let truncated = &text[..text.len() * 2 / 3];
    let e = parse(truncated).unwrap_err().to_string();
    assert!(e.contains("truncated"), "{e}");

    let tampered = text.replacen("Book the coffee van", "Book the coffee vam", 1);
    assert_ne!(tampered, text);
    let e = parse(&tampered).unwrap_err().to_string();
    assert!(e.contains("digest"), "{e}");

    // Re-signed, but holding a row of another organization.
    let mut foreign = doc.clone();
    foreign.tables.get_mut("team").unwrap()[0]["org"] = Json::String("someone-else".into());
    foreign.sha256 = foreign.digest();
    let e = parse(&serde_json::to_string(&foreign).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("another organization"), "{e}");

    // Re-signed and consistent, but a row the database refuses (last table, so
    // everything before it was already written inside the transaction).
    let mut bad = doc.clone();
    bad.tables.get_mut("attachment").unwrap()[0]["sha256"] = Json::String("not a hash".into());
    bad.sha256 = bad.digest();
    let e = import(
        &fresh,
        &fresh_files,
        parse(&serde_json::to_string(&bad).unwrap()).unwrap(),
        ImportAs::Same,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("nothing was imported"), "{e}");
    assert!(fresh.orgs().await.unwrap().is_empty(), "no organization");
    // No user either (users carry no org: looked up by their email).
    for u in &doc.tables["user"] {
        let email = u["email"].as_str().unwrap();
        assert!(
            fresh.user_id_by_email(email).await.unwrap().is_none(),
            "{email}"
        );
    }
    for table in ["work_item", "task"] {
        let rows = fresh
            .export_table(table, Owned::ByOrg, &doc.org, &BTreeMap::new())
            .await
            .unwrap();
        assert!(rows.is_empty(), "{table}");
    }
    assert!(
        fresh
            .export_journal(&doc.org, &[])
            .await
            .unwrap()
            .is_empty(),
        "no journal row"
    );
    assert!(
        !fresh_files.exists(doc.files.keys().next().unwrap()).await,
        "no bytes left"
    );
}
