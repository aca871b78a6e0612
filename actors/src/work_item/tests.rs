use super::*;
use crate::Core;
use crate::demo::vehicle_workflow;
use crate::org::{Caller, JobTypeInput, WorkflowInput};
use crate::testing::{memory_store, org_with_owner, team_with_capacity};
use cflows_protocol::wire::{ServerMsg, decode_server};
use cflows_protocol::{BoardEvent, FieldValue, NewItem, Priority, TeamView, WorkflowId};
use std::collections::BTreeMap;
use std::time::Duration;

const HOUR: i64 = 3_600_000;

fn tomorrow() -> i64 {
    let now = now_ms();
    now - now.rem_euclid(24 * HOUR) + 24 * HOUR
}

struct Shop {
    core: Core,
    org: OrgId,
    owner: Booker,
    teams: Vec<TeamView>,
    workflow: WorkflowView,
}

impl Shop {
    fn board(&self) -> BoardHandle {
        BoardHandle::new(&self.core.kernel, &self.org, &self.workflow.id)
    }

    fn item(&self, id: &ItemId) -> WorkItemHandle {
        WorkItemHandle::new(&self.core.kernel, &self.org, id)
    }

    fn calendar(&self, step: &str) -> TeamCalendarHandle {
        let team = self
            .workflow
            .steps
            .iter()
            .find(|s| s.id == step)
            .and_then(|s| s.team.clone())
            .unwrap();
        TeamCalendarHandle::new(&self.core.kernel, &self.org, &team)
    }

    /// A confirmed booking of `step`'s job type on its team, `[start, end)`, linked to
    /// `item` (when given) and the step.
    async fn book(&self, step: &str, start: i64, end: i64, item: Option<&ItemId>) -> BookingView {
        let job_type = self
            .workflow
            .steps
            .iter()
            .find(|s| s.id == step)
            .and_then(|s| s.booking_job_type.clone())
            .unwrap();
        self.calendar(step)
            .hold(
                self.owner.clone(),
                crate::team_calendar::BookingSpec {
                    job_type,
                    start,
                    end,
                    members_required: 1,
                    title: format!("{step} booking"),
                    confirm: true,
                    hold_ms: None,
                    waitlist: false,
                    assigned: vec![],
                    work_item: item.cloned(),
                    step: item.map(|_| step.to_string()),
                },
            )
            .await
            .unwrap()
    }

    /// Moves `item` from its first step into Test & Inspect, with a hold from `start`.
    async fn move_into_test(&self, item: &ItemId, start: Option<i64>) -> CoreResult<WorkItemView> {
        self.item(item)
            .move_to(
                self.owner.clone(),
                MoveRequest {
                    from: "request".into(),
                    to: "test".into(),
                    comment: None,
                    booking_start: start,
                },
            )
            .await
    }

    async fn vehicle(&self, title: &str) -> WorkItemView {
        self.board()
            .create_item(
                self.owner.clone(),
                NewItem {
                    title: title.into(),
                    assignee: None,
                    priority: Priority::High,
                    due: None,
                    data: BTreeMap::from([("vin".into(), FieldValue::Text("WVW1".into()))]),
                },
            )
            .await
            .unwrap()
    }
}

async fn shop() -> Shop {
    let core = Core::start(memory_store().await).await.unwrap();
    let (org, owner) = org_with_owner(&core).await;
    let by = Caller::User(owner.id.clone());
    let mut teams = Vec::new();
    for name in ["Sales", "Testers", "Mechanics", "Photographers"] {
        teams.push(team_with_capacity(&core, &org.id, &by, name, 2, 2).await);
    }
    let handle = core.directory.org(&org.id).await.unwrap();
    let mut job_types = Vec::new();
    for (name, minutes) in [("Inspection", 90), ("Repair", 240), ("Photo shoot", 30)] {
        job_types.push(
            handle
                .create_job_type(
                    by.clone(),
                    JobTypeInput {
                        name: name.into(),
                        duration_minutes: minutes,
                        colour: "#123456".into(),
                    },
                )
                .await
                .unwrap(),
        );
    }
    let input = vehicle_workflow(
        |n| teams.iter().find(|t| t.name == n).map(|t| t.id.clone()),
        |n| job_types.iter().find(|j| j.name == n).map(|j| j.id.clone()),
    );
    let workflow = handle.save_workflow(by, None, input).await.unwrap();
    Shop {
        core,
        org: org.id,
        owner: Booker {
            user: owner.id,
            name: owner.display_name,
            admin: true,
        },
        teams,
        workflow,
    }
}

/// Waits for the next `item:{id}` event that moves the item, returning its new step.
async fn next_move(
    live: &mut tokio::sync::mpsc::UnboundedReceiver<Arc<crate::streams::Frame>>,
) -> String {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), live.recv())
            .await
            .expect("the item moves")
            .unwrap();
        if let ServerMsg::Event {
            event: StreamEvent::Item(ItemEvent::ItemMoved { item, .. }),
            ..
        } = decode_server(&frame.bytes).unwrap()
        {
            return item.step;
        }
    }
}

use crate::kernel::RegistryStats;
use std::sync::Arc;

#[tokio::test]
async fn a_vehicle_goes_through_every_step_with_its_bookings() {
    let s = shop().await;
    let by = s.owner.clone();
    let car = s.vehicle("Golf 1.4 TSI").await;
    assert_eq!((car.key.as_str(), car.step.as_str()), ("VH-1", "request"));
    let handle = s.item(&car.id);
    let mut live = s
        .core
        .kernel
        .hub()
        .subscribe(&StreamName::Item(car.id.clone()));

    // Into Test & Inspect with a hold on the Testers' calendar.
    let t0 = tomorrow() + 9 * HOUR;
    let moved = handle
        .move_to(
            by.clone(),
            MoveRequest {
                from: "request".into(),
                to: "test".into(),
                comment: Some("customer trade-in".into()),
                booking_start: Some(t0),
            },
        )
        .await
        .unwrap();
    assert_eq!(moved.step, "test");
    let booking = moved.booking.clone().expect("a hold was placed");
    assert_eq!(booking.state, BookingState::Held);
    assert_eq!(next_move(&mut live).await, "test");

    // It cannot leave Test & Inspect until the booking is completed.
    let blocked = handle
        .move_to(
            by.clone(),
            MoveRequest {
                from: "test".into(),
                to: "repair".into(),
                comment: None,
                booking_start: None,
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&blocked, CoreError::Conflict(m) if m.contains("needs its booking completed")),
        "{blocked:?}"
    );
    // Completing the booking advances it (not passed → Needs repair).
    let testers = s.calendar("test");
    testers
        .confirm(by.clone(), booking.id.clone())
        .await
        .unwrap();
    testers
        .complete(by.clone(), booking.id.clone())
        .await
        .unwrap();
    assert_eq!(next_move(&mut live).await, "repair");

    // A booking made on the calendar (linked to the item and step) counts too.
    let mechanics = s.calendar("repair");
    let b = s
        .book("repair", t0 + 2 * HOUR, t0 + 6 * HOUR, Some(&car.id))
        .await;
    mechanics.complete(by.clone(), b.id).await.unwrap();
    assert_eq!(next_move(&mut live).await, "publish");

    // Publish: place the photo shoot by moving back and forth is not needed — book it.
    let photo = s.calendar("publish");
    let shoot = handle.snapshot().await.unwrap().item;
    assert!(
        shoot.booking.is_none(),
        "entered by the advance, without a hold"
    );
    let p = s
        .book(
            "publish",
            t0 + 7 * HOUR,
            t0 + 7 * HOUR + HOUR / 2,
            Some(&car.id),
        )
        .await;
    photo.complete(by.clone(), p.id).await.unwrap();
    assert_eq!(next_move(&mut live).await, "sold");

    let snap = handle.snapshot().await.unwrap();
    assert!(snap.item.done, "the terminal step means done");
    let path: Vec<&str> = snap.history.iter().map(|h| h.to.as_str()).collect();
    assert_eq!(path, ["request", "test", "repair", "publish", "sold"]);
    assert_eq!(
        snap.history[1].comment.as_deref(),
        Some("customer trade-in")
    );
    assert_eq!(snap.history[2].label, "Needs repair");
    // Nothing leaves Sold.
    assert!(
        handle
            .move_to(
                by,
                MoveRequest {
                    from: "sold".into(),
                    to: "publish".into(),
                    comment: None,
                    booking_start: None,
                },
            )
            .await
            .is_err()
    );
    // The same after a restart: the store holds what the actor held.
    s.core.kernel.work_items().stop_scope(&s.org);
    let again = handle.snapshot().await.unwrap();
    assert_eq!(again.item, snap.item);
    assert_eq!(again.history, snap.history);
}

#[tokio::test]
async fn of_two_racing_moves_exactly_one_wins_and_the_other_names_the_new_step() {
    let s = shop().await;
    let car = s.vehicle("Polo").await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let handle = s.item(&car.id);
        let by = s.owner.clone();
        tasks.push(tokio::spawn(async move {
            handle
                .move_to(
                    by,
                    MoveRequest {
                        from: "request".into(),
                        to: "test".into(),
                        comment: None,
                        booking_start: None,
                    },
                )
                .await
        }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(item) => {
                won += 1;
                assert_eq!(item.step, "test");
            }
            Err(CoreError::Conflict(m)) => {
                assert_eq!(
                    m,
                    format!(
                        "{} was moved meanwhile: it is now in Test & Inspect",
                        car.key
                    )
                );
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(s.item(&car.id).snapshot().await.unwrap().history.len(), 2);
}

#[tokio::test]
async fn moves_follow_the_definition_and_fields_are_checked() {
    let s = shop().await;
    let by = s.owner.clone();
    let car = s.vehicle("Up!").await;
    let h = s.item(&car.id);
    let mv = |to: &str| MoveRequest {
        from: "request".into(),
        to: to.into(),
        comment: None,
        booking_start: None,
    };
    let err = h.move_to(by.clone(), mv("sold")).await.unwrap_err();
    assert!(
        matches!(&err, CoreError::InvalidInput(m) if m == "there is no transition from Request Test to Sold"),
        "{err:?}"
    );
    // The required VIN cleared: the move is blocked, naming the field.
    h.update(
        by.clone(),
        ItemChange {
            data: BTreeMap::from([("vin".into(), None)]),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let err = h.move_to(by.clone(), mv("test")).await.unwrap_err();
    assert!(
        matches!(&err, CoreError::Conflict(m) if m.contains("fill in \"VIN\"")),
        "{err:?}"
    );
    for (key, bad) in [
        ("mileage", FieldValue::Text("far".into())),
        ("grade", FieldValue::Text("Mint".into())),
        ("nope", FieldValue::Bool(true)),
    ] {
        let r = h
            .update(
                by.clone(),
                ItemChange {
                    data: BTreeMap::from([(key.to_string(), Some(bad))]),
                    ..Default::default()
                },
            )
            .await;
        assert!(matches!(r, Err(CoreError::InvalidInput(_))), "{key}: {r:?}");
    }
    // A hold that does not fit refuses the move: nothing moves.
    let t0 = tomorrow() + 9 * HOUR;
    h.update(
        by.clone(),
        ItemChange {
            data: BTreeMap::from([("vin".into(), Some(FieldValue::Text("X".into())))]),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    for _ in 0..2 {
        s.book("test", t0, t0 + HOUR, None).await;
    }
    let mut m = mv("test");
    m.booking_start = Some(t0);
    let err = h.move_to(by.clone(), m).await.unwrap_err();
    assert!(matches!(err, CoreError::NoCapacity(_)), "{err:?}");
    assert_eq!(h.snapshot().await.unwrap().item.step, "request");
}

#[tokio::test]
async fn removing_a_step_that_holds_items_needs_a_target_and_moves_them() {
    let s = shop().await;
    let car = s.vehicle("Passat").await;
    let org = s.core.directory.org(&s.org).await.unwrap();
    let by = Caller::User(s.owner.user.clone());
    let current = org.workflow(&s.workflow.id).await.unwrap();
    // A new version without "request": the start moves to "test".
    let mut steps = current.steps.clone();
    steps.remove(0);
    steps[0].start = true;
    let transitions: Vec<_> = current
        .transitions
        .iter()
        .filter(|t| t.from != "request" && t.to != "request")
        .cloned()
        .collect();
    let input = |relocate: BTreeMap<String, String>| WorkflowInput {
        name: current.name.clone(),
        key: current.key.clone(),
        steps: steps.clone(),
        transitions: transitions.clone(),
        relocate,
    };
    let err = org
        .save_workflow(
            by.clone(),
            Some(s.workflow.id.clone()),
            input(BTreeMap::new()),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "step \"Request Test\" holds 1 item(s): choose a step to move them to"
    );
    let mut live = s
        .core
        .kernel
        .hub()
        .subscribe(&StreamName::Item(car.id.clone()));
    let v2 = org
        .save_workflow(
            by,
            Some(s.workflow.id.clone()),
            input(BTreeMap::from([("request".into(), "test".into())])),
        )
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(next_move(&mut live).await, "test");
    let item = s.item(&car.id).snapshot().await.unwrap();
    assert_eq!(
        (
            item.item.version,
            item.history.last().unwrap().label.as_str()
        ),
        (2, "relocated")
    );
}

#[tokio::test]
async fn the_board_publishes_cards_and_catches_up_what_it_missed() {
    let s = shop().await;
    let board = s.board();
    let stream = StreamName::Board(s.workflow.id.clone());
    let mut live = s.core.kernel.hub().subscribe(&stream);
    let car = s.vehicle("Tiguan").await;
    let first = decode_server(&live.recv().await.unwrap().bytes).unwrap();
    assert!(matches!(
        first,
        ServerMsg::Event { event: StreamEvent::Board(BoardEvent::CardAdded { ref card }), .. } if card.key == "VH-1"
    ));
    s.move_into_test(&car.id, None).await.unwrap();
    let next = decode_server(&live.recv().await.unwrap().bytes).unwrap();
    assert!(matches!(
        next,
        ServerMsg::Event { event: StreamEvent::Board(BoardEvent::CardChanged { ref card }), .. } if card.step == "test"
    ));
    let head = board.head().await.unwrap();
    // As if the board never heard of the move: it republishes it when it next loads.
    s.core
        .kernel
        .store()
        .forget_board_card_for_tests(car.id.as_str())
        .await
        .unwrap();
    s.core.kernel.boards().stop_scope(&s.org);
    let snap = board.snapshot().await.unwrap();
    assert_eq!(snap.seq, head + 1, "one catch-up event");
    assert_eq!(snap.cards[0].step, "test");
    // Another organization's board and item look missing.
    let other = BoardHandle::new(&s.core.kernel, &OrgId::new("elsewhere"), &s.workflow.id);
    assert!(matches!(other.snapshot().await, Err(CoreError::NotFound)));
    let other = WorkItemHandle::new(&s.core.kernel, &OrgId::new("elsewhere"), &car.id);
    assert!(matches!(other.snapshot().await, Err(CoreError::NotFound)));
    let missing = BoardHandle::new(&s.core.kernel, &s.org, &WorkflowId::new("nope"));
    assert!(matches!(missing.snapshot().await, Err(CoreError::NotFound)));
    let _ = &s.teams;
}

#[tokio::test]
async fn an_item_stranded_in_a_removed_step_can_be_moved_back_in() {
    let s = shop().await;
    let car = s.vehicle("Arteon").await;
    // As if it moved into a step while a version removing that step was saved.
    s.core
        .kernel
        .store()
        .strand_item_for_tests(car.id.as_str(), "wash")
        .await
        .unwrap();
    s.core.kernel.work_items().stop_scope(&s.org);
    let moved = s
        .item(&car.id)
        .move_to(
            s.owner.clone(),
            MoveRequest {
                from: "wash".into(),
                to: "request".into(),
                comment: None,
                booking_start: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(moved.step, "request");
    let snap = s.item(&car.id).snapshot().await.unwrap();
    assert_eq!(snap.history.last().unwrap().label, "relocated");
}

#[tokio::test]
async fn a_step_booking_at_the_end_of_time_is_refused_not_overflowed() {
    let s = shop().await;
    let car = s.vehicle("Golf 1.4 TSI").await;
    let handle = s.item(&car.id);
    let refused = s
        .move_into_test(&car.id, Some(i64::MAX - HOUR))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, CoreError::InvalidInput(m) if m.contains("out of range")),
        "{refused:?}"
    );
    assert_eq!(handle.snapshot().await.unwrap().item.step, "request");
}

#[tokio::test]
async fn the_team_of_the_step_an_item_enters_is_told_in_words_with_a_link() {
    use cflows_protocol::{EntityRef, InboxEvent, NotificationKind};
    let s = shop().await;
    let car = s.vehicle("Golf 1.4 TSI").await;
    let tester = s
        .teams
        .iter()
        .find(|t| t.name == "Testers")
        .unwrap()
        .members[0]
        .clone();
    let mut inbox = s
        .core
        .kernel
        .hub()
        .subscribe(&StreamName::Inbox(tester.clone()));
    s.move_into_test(&car.id, Some(tomorrow() + 9 * HOUR))
        .await
        .unwrap();
    let frame = tokio::time::timeout(Duration::from_secs(10), inbox.recv())
        .await
        .expect("the tester is told")
        .unwrap();
    let ServerMsg::Event {
        event:
            StreamEvent::Inbox(InboxEvent::NotificationAdded {
                notification: n, ..
            }),
        ..
    } = decode_server(&frame.bytes).unwrap()
    else {
        panic!("a notification")
    };
    let step = step_name(&s.workflow, "test").to_string();
    assert_eq!(n.kind, NotificationKind::WorkItemMoved);
    assert_eq!(n.title, format!("VH-1 is in {step}"));
    assert_eq!(
        n.body,
        format!("{} moved Golf 1.4 TSI to {step}.", s.owner.name)
    );
    assert_eq!(n.link, format!("/items/{}", car.id));
    assert_eq!(
        n.entity,
        Some(EntityRef {
            kind: "item".into(),
            id: car.id.to_string()
        })
    );
    assert_eq!(n.from, Some(s.owner.user.clone()));
}

#[tokio::test]
async fn an_items_files_follow_the_attachment_rules() {
    let s = shop().await;
    let car = s.vehicle("Golf 1.4 TSI").await;
    let handle = s.item(&car.id);
    let files = s.core.kernel.files().clone();
    let keep = || files.keep("note.txt", b"Scratch on the left door.".to_vec());
    let first = handle
        .attach(s.owner.clone(), keep().await.unwrap())
        .await
        .unwrap();
    let member = s.teams[0].members[0].clone();
    let stranger = Booker {
        user: member,
        name: "Sales 0".into(),
        admin: false,
    };
    let refused = handle
        .detach(stranger.clone(), first.id.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, CoreError::Forbidden(m) if m == "only who attached it or an admin removes an attachment"),
        "{refused:?}"
    );
    for _ in 1..attachments::MAX_ATTACHMENTS {
        handle
            .attach(stranger.clone(), keep().await.unwrap())
            .await
            .unwrap();
    }
    let full = handle
        .attach(s.owner.clone(), keep().await.unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(&full, CoreError::InvalidInput(m) if m == "an item has at most 50 attachments"),
        "{full:?}"
    );
    handle.detach(s.owner.clone(), first.id).await.unwrap();
}
