//! The dealership demo: "Demo Motors" with its Sales, Testers, Mechanics and
//! Photographers teams. Idempotent: seeding twice changes nothing the second time.

use crate::directory::DirectoryHandle;
use crate::directory::new_user;
use crate::error::CoreResult;
use crate::org::WorkflowInput;
use crate::org::{Caller, TeamInput};
use crate::{NewOrg, Owner};
use cflows_protocol::{
    ClockFormat, Condition, ConditionOp, FieldDef, FieldKind, Role, StepDef, TeamId, TransitionDef,
    UserId,
};

/// The demo organization's slug.
pub const DEMO_SLUG: &str = "demo-motors";
/// The demo admin's email.
pub const DEMO_ADMIN_EMAIL: &str = "admin@demo-motors.example";

/// The login printed after seeding.
#[derive(Clone, Debug)]
pub struct DemoLogin {
    pub email: String,
    pub password: String,
    /// The workshop kiosk's path with its secret token (`/kiosk/k/{token}`).
    pub kiosk_link: Option<String>,
}

const PEOPLE: &[(&str, &str, &str)] = &[
    // (email local part, name, team)
    ("sam.seller", "Sam Seller", "Sales"),
    ("sally.sales", "Sally Sales", "Sales"),
    ("tom.tester", "Tom Tester", "Testers"),
    ("tina.test", "Tina Test", "Testers"),
    ("max.mechanic", "Max Mechanic", "Mechanics"),
    ("mia.wrench", "Mia Wrench", "Mechanics"),
    ("mo.bolt", "Mo Bolt", "Mechanics"),
    ("pia.photo", "Pia Photo", "Photographers"),
];

const TEAMS: &[(&str, &str, &str, u32)] = &[
    ("Sales", "Requests tests, sells the car", "#2563eb", 2),
    ("Testers", "Test drives and inspections", "#16a34a", 2),
    ("Mechanics", "Repairs found in inspection", "#ea580c", 3),
    ("Photographers", "Photos for the listing", "#9333ea", 1),
];

/// Seeds the demo with `password` for every demo user. Returns `None` when the demo
/// organization already exists (nothing is changed then).
///
/// # Errors
/// A store failure part-way; running it again completes what is missing only if the
/// organization was not created yet.
pub async fn seed(dir: &DirectoryHandle, password: &str) -> CoreResult<Option<DemoLogin>> {
    if dir.store().org_by_slug(DEMO_SLUG).await?.is_some() {
        return Ok(None);
    }
    let admin = match dir.user_by_email(DEMO_ADMIN_EMAIL).await? {
        Some(u) => UserId::new(u.id),
        None => {
            dir.create_user(DEMO_ADMIN_EMAIL, "Alex Admin", password, true)
                .await?
                .id
        }
    };
    let org = dir
        .create_org(NewOrg {
            name: "Demo Motors".into(),
            slug: DEMO_SLUG.into(),
            timezone: "Europe/Berlin".into(),
            clock: ClockFormat::H24,
            owner: Some(Owner::Existing(admin.clone())),
        })
        .await?;
    let handle = dir.org(&org.id).await?;
    let by = Caller::User(admin.clone());
    let mut members: Vec<(UserId, &str)> = Vec::new();
    for (local, name, team) in PEOPLE {
        let email = format!("{local}@demo-motors.example");
        let member = match dir.user_by_email(&email).await? {
            Some(u) => {
                let user = cflows_protocol::UserView {
                    id: UserId::new(u.id),
                    email: u.email,
                    display_name: u.display_name,
                };
                handle.add_member(by.clone(), user, Role::Member).await?
            }
            None => {
                let user = new_user(&email, name, password, false).await?;
                handle.create_member(by.clone(), user, Role::Member).await?
            }
        };
        members.push((member.user.id, team));
    }
    let mut teams = Vec::new();
    for (name, description, colour, bookable) in TEAMS {
        let team_members: Vec<UserId> = members
            .iter()
            .filter(|(_, t)| t == name)
            .map(|(u, _)| u.clone())
            .collect();
        let team = handle
            .create_team(
                by.clone(),
                TeamInput {
                    name: (*name).into(),
                    description: (*description).into(),
                    colour: (*colour).into(),
                    parent: None,
                    manager: team_members.first().cloned(),
                    members: team_members,
                    bookable_count: *bookable,
                    reminder_hours: Some(24),
                },
            )
            .await?;
        teams.push(team);
    }
    seed_capacity(dir, &handle, &org.id, &admin, &teams).await?;
    let kiosk_link = seed_workflow(dir, &handle, &org.id, &admin, &teams).await?;
    seed_project(dir, &org.id, &admin, &members).await?;
    Ok(Some(DemoLogin {
        email: DEMO_ADMIN_EMAIL.into(),
        password: password.into(),
        kiosk_link: Some(kiosk_link),
    }))
}

/// The project "Spring showroom event": sales and photographers on it, tasks in each
/// status with assignees and due dates.
async fn seed_project(
    dir: &DirectoryHandle,
    org: &cflows_protocol::OrgId,
    admin: &UserId,
    members: &[(UserId, &str)],
) -> CoreResult<()> {
    use cflows_protocol::{NewTask, Priority, ProjectInput, TaskChange};
    let kernel = dir.kernel();
    let by = crate::team_calendar::Booker {
        user: admin.clone(),
        name: "Alex Admin".into(),
        admin: true,
    };
    let of = |team: &str| -> Vec<UserId> {
        members
            .iter()
            .filter(|(_, t)| *t == team)
            .map(|(u, _)| u.clone())
            .collect()
    };
    let (sales, photo) = (of("Sales"), of("Photographers"));
    let project = crate::project::create(
        kernel,
        org,
        &by,
        ProjectInput {
            name: Some("Spring showroom event".into()),
            description: Some(
                "Open house on the first Saturday of spring: twelve cars on the floor, test drives, coffee.".into(),
            ),
            key: Some("SSE".into()),
            members: Some(sales.iter().chain(&photo).cloned().collect()),
            ..ProjectInput::default()
        },
    )
    .await?;
    let handle = crate::project::ProjectHandle::new(kernel, org, &project.id, by);
    let in_days = |n: i64| {
        (chrono::Utc::now().date_naive() + chrono::Duration::days(n))
            .format("%Y-%m-%d")
            .to_string()
    };
    let tasks: [(&str, Option<&UserId>, &str, i64, Priority); 6] = [
        (
            "Book the coffee van",
            sales.first(),
            "done",
            -3,
            Priority::Normal,
        ),
        (
            "Print flyers and price boards",
            sales.get(1),
            "doing",
            2,
            Priority::High,
        ),
        (
            "Photograph the twelve showroom cars",
            photo.first(),
            "doing",
            4,
            Priority::High,
        ),
        (
            "Invite last year's buyers",
            sales.first(),
            "todo",
            6,
            Priority::Normal,
        ),
        (
            "Plan test-drive routes",
            sales.get(1),
            "todo",
            8,
            Priority::Low,
        ),
        ("Order balloons", None, "todo", 10, Priority::Low),
    ];
    for (title, assignee, status, due, priority) in tasks {
        let task = handle
            .create_task(NewTask {
                title: title.into(),
                assignee: assignee.cloned(),
                due: Some(in_days(due)),
                priority,
                ..NewTask::default()
            })
            .await?;
        if status != "todo" {
            handle
                .update_task(
                    task.id,
                    TaskChange {
                        status: Some(status.into()),
                        ..TaskChange::default()
                    },
                )
                .await?;
        }
    }
    Ok(())
}

/// The dealership's vehicle workflow: Request Test → Test & Inspect → Repair /
/// Recondition → Publish → Sold. `team` and `job_type` look up ids by name; a name they
/// do not know leaves that step without a team or booking requirement.
pub fn vehicle_workflow(
    team: impl Fn(&str) -> Option<TeamId>,
    job_type: impl Fn(&str) -> Option<String>,
) -> WorkflowInput {
    let field = |key: &str, label: &str, kind: FieldKind, required: bool| FieldDef {
        key: key.into(),
        label: label.into(),
        kind,
        required,
        options: Vec::new(),
    };
    let step = |id: &str, name: &str, team_name: &str, job: Option<&str>, target: u32| StepDef {
        id: id.into(),
        name: name.into(),
        description: String::new(),
        team: team(team_name),
        start: false,
        terminal: false,
        booking_job_type: job.and_then(&job_type),
        target_minutes: Some(target),
        fields: Vec::new(),
    };
    let mut request = step("request", "Request Test", "Sales", None, 8 * 60);
    request.start = true;
    request.description = "Sales asks for a test of a vehicle taken in.".into();
    request.fields = vec![
        field("vin", "VIN", FieldKind::Text, true),
        field("mileage", "Mileage (km)", FieldKind::Number, false),
    ];
    let mut test = step(
        "test",
        "Test & Inspect",
        "Testers",
        Some("Inspection"),
        2 * 24 * 60,
    );
    test.description = "Test drive and inspection; book the inspection.".into();
    test.fields = vec![
        field("passed", "Passed inspection", FieldKind::Checkbox, false),
        field("findings", "Findings", FieldKind::Text, false),
    ];
    let mut repair = step(
        "repair",
        "Repair / Recondition",
        "Mechanics",
        Some("Repair"),
        3 * 24 * 60,
    );
    repair.fields = vec![field(
        "repair_cost",
        "Repair cost (EUR)",
        FieldKind::Number,
        false,
    )];
    let mut publish = step(
        "publish",
        "Publish",
        "Photographers",
        Some("Photo shoot"),
        24 * 60,
    );
    publish.fields = vec![
        field("price", "Price (EUR)", FieldKind::Number, false),
        FieldDef {
            options: vec!["Used".into(), "Certified".into(), "Classic".into()],
            ..field("grade", "Listing grade", FieldKind::Select, false)
        },
    ];
    let mut sold = step("sold", "Sold", "Sales", None, 60);
    sold.terminal = true;
    sold.target_minutes = None;
    let t = |from: &str, to: &str, label: &str, back: bool, condition: Option<Condition>| {
        TransitionDef {
            from: from.into(),
            to: to.into(),
            label: label.into(),
            condition,
            back,
        }
    };
    WorkflowInput {
        name: "Vehicles".into(),
        key: "VH".into(),
        steps: vec![request, test, repair, publish, sold],
        transitions: vec![
            t("request", "test", "Send to test", false, None),
            t("test", "request", "Back to sales", true, None),
            t(
                "test",
                "publish",
                "Passed",
                false,
                Some(Condition {
                    field: "passed".into(),
                    op: ConditionOp::Set,
                    value: None,
                }),
            ),
            t("test", "repair", "Needs repair", false, None),
            t("repair", "test", "Re-inspect", true, None),
            t("repair", "publish", "Repaired", false, None),
            t("publish", "repair", "Back to workshop", true, None),
            t("publish", "sold", "Sold", false, None),
        ],
        relocate: Default::default(),
    }
}

/// How far a demo vehicle has got. Every booking a vehicle has is confirmed or
/// completed (nothing runs out by itself after the first start), and every vehicle has
/// a way on: a confirmed booking to mark done, a step to book, or a move to make.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// In Request Test.
    Requested,
    /// In Test & Inspect with a confirmed inspection.
    InspectionBooked,
    /// In Test & Inspect, its inspection not booked yet.
    AwaitingInspection,
    /// Inspected (not passed), in Repair / Recondition with a confirmed repair.
    RepairBooked,
    /// Inspected, in Repair / Recondition, its repair not booked yet.
    AwaitingRepair,
    /// Passed, in Publish with a confirmed photo shoot.
    PhotosBooked,
    /// Passed, in Publish, its photo shoot not booked yet.
    AwaitingPhotos,
    /// Photographed and sold.
    Sold,
}

/// Vehicles of the demo: (title, VIN, how far it has got).
const VEHICLES: &[(&str, &str, Stage)] = &[
    (
        "VW Golf 1.4 TSI, silver",
        "WVWZZZ1KZ8W001042",
        Stage::Requested,
    ),
    ("Audi A3 Sportback", "WAUZZZ8P89A000311", Stage::Requested),
    ("Skoda Octavia Combi", "TMBJJ7NE0E0000754", Stage::Requested),
    (
        "BMW 320d Touring",
        "WBA8E51020K000219",
        Stage::InspectionBooked,
    ),
    ("Opel Corsa F", "W0V0A8HP0K4000456", Stage::InspectionBooked),
    (
        "Ford Focus ST",
        "WF05XXGCC5FA00088",
        Stage::AwaitingInspection,
    ),
    ("Mercedes C 200", "WDD2050401R000631", Stage::RepairBooked),
    ("Renault Clio V", "VF1RJA00164000912", Stage::RepairBooked),
    (
        "Toyota Yaris Hybrid",
        "VNKKD3D300A000145",
        Stage::AwaitingRepair,
    ),
    ("Mazda CX-5", "JMZKF6W1A00003321", Stage::PhotosBooked),
    ("Volvo V60 T6", "YV1ZW10LDK1000875", Stage::AwaitingPhotos),
    ("Porsche 911 Carrera", "WP0ZZZ99ZFS000161", Stage::Sold),
];

/// The Vehicles workflow, a dozen vehicles spread over its steps with bookings, and a
/// workshop kiosk. Returns the kiosk's link.
async fn seed_workflow(
    dir: &DirectoryHandle,
    org: &crate::org::OrgHandle,
    org_id: &cflows_protocol::OrgId,
    admin: &UserId,
    teams: &[cflows_protocol::TeamView],
) -> CoreResult<String> {
    use crate::board::BoardHandle;
    use crate::domain::time;
    use crate::team_calendar::{Booker, TeamCalendarHandle};
    use crate::work_item::WorkItemHandle;
    use cflows_protocol::{FieldValue, ItemChange, MoveRequest, NewItem, Priority};
    let by = Caller::User(admin.clone());
    let job_types = org.job_types().await?;
    let input = vehicle_workflow(
        |n| teams.iter().find(|t| t.name == n).map(|t| t.id.clone()),
        |n| job_types.iter().find(|j| j.name == n).map(|j| j.id.clone()),
    );
    let workflow = org.save_workflow(by.clone(), None, input).await?;
    let booker = Booker {
        user: admin.clone(),
        name: "Alex Admin".into(),
        admin: true,
    };
    let kernel = dir.kernel();
    let board = BoardHandle::new(kernel, org_id, &workflow.id);
    let tz = time::zone(&org.settings().await?.timezone)?;
    // Candidate local starts on the next working days, tried until one fits.
    let mut day = time::local(tz, chrono::Utc::now()).date();
    let mut days = Vec::new();
    while days.len() < 3 {
        day += chrono::Duration::days(1);
        if chrono::Datelike::weekday(&day).number_from_monday() <= 5 {
            days.push(day);
        }
    }
    let starts: Vec<i64> = days
        .iter()
        .flat_map(|d| ["08:00", "09:30", "11:00", "13:00", "14:30", "16:00"].map(move |t| (*d, t)))
        .map(|(d, t)| {
            let local =
                chrono::NaiveDateTime::parse_from_str(&format!("{d} {t}"), "%Y-%m-%d %H:%M")
                    .expect("demo times parse");
            time::resolve(tz, local).timestamp_millis()
        })
        .collect();
    // Books the step `item` is in at the first start that fits, and confirms it.
    let book = |item: WorkItemHandle| {
        let (booker, starts) = (booker.clone(), starts.clone());
        async move {
            for start in starts.iter().copied() {
                match item.book(booker.clone(), start).await {
                    Ok(v) => {
                        if let Some(b) = v.booking {
                            TeamCalendarHandle::new(kernel, org_id, &b.team)
                                .confirm(booker.clone(), b.id)
                                .await?;
                        }
                        return CoreResult::Ok(());
                    }
                    Err(crate::CoreError::NoCapacity(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            tracing::debug!("demo vehicle left without a booking: no free slot");
            Ok(())
        }
    };
    // Completes the item's booking; the item advances by itself to `expect`.
    let finish = |item: WorkItemHandle, expect: &'static str| {
        let booker = booker.clone();
        async move {
            let Some(b) = item.snapshot().await?.item.booking else {
                return Ok(());
            };
            TeamCalendarHandle::new(kernel, org_id, &b.team)
                .complete(booker, b.id)
                .await?;
            for _ in 0..100 {
                if item.snapshot().await?.item.step == expect {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            CoreResult::Ok(())
        }
    };
    for (i, (title, vin, stage)) in VEHICLES.iter().copied().enumerate() {
        let priority = [
            Priority::Normal,
            Priority::High,
            Priority::Low,
            Priority::Urgent,
        ][i % 4];
        let view = board
            .create_item(
                booker.clone(),
                NewItem {
                    title: title.into(),
                    assignee: None,
                    priority,
                    due: None,
                    data: [("vin".to_string(), FieldValue::Text(vin.into()))].into(),
                },
            )
            .await?;
        let item = WorkItemHandle::new(kernel, org_id, &view.id);
        if stage == Stage::Requested {
            continue;
        }
        // Vehicles past inspection passed it, except those sent to repair.
        let passed = matches!(
            stage,
            Stage::PhotosBooked | Stage::AwaitingPhotos | Stage::Sold
        );
        if passed {
            item.update(
                booker.clone(),
                ItemChange {
                    data: [("passed".to_string(), Some(FieldValue::Bool(true)))].into(),
                    ..Default::default()
                },
            )
            .await?;
        }
        let sent = MoveRequest {
            from: "request".into(),
            to: "test".into(),
            comment: None,
            booking_start: None,
        };
        item.move_to(booker.clone(), sent).await?;
        if stage == Stage::AwaitingInspection {
            continue;
        }
        book(item.clone()).await?;
        if stage == Stage::InspectionBooked {
            continue;
        }
        finish(item.clone(), if passed { "publish" } else { "repair" }).await?;
        match stage {
            Stage::RepairBooked | Stage::PhotosBooked => book(item.clone()).await?,
            Stage::Sold => {
                book(item.clone()).await?;
                finish(item.clone(), "sold").await?;
            }
            _ => {}
        }
    }
    // Every team: the showroom's test drives are part of the workshop's day.
    let kiosk_teams = teams.iter().map(|t| t.id.clone()).collect();
    let (_, token) = org
        .create_kiosk(
            by,
            crate::org::KioskInput {
                name: "Workshop screen".into(),
                scope: cflows_protocol::KioskScope {
                    boards: vec![workflow.id.clone()],
                    teams: kiosk_teams,
                    today_bookings: true,
                    cycle_seconds: 20,
                },
            },
        )
        .await?;
    Ok(format!("/kiosk/k/{token}"))
}

/// Job types: (name, minutes, colour, the team that does them).
const JOB_TYPES: &[(&str, u32, &str, &str)] = &[
    ("Test drive", 60, "#16a34a", "Testers"),
    ("Inspection", 90, "#0891b2", "Testers"),
    ("Repair", 240, "#ea580c", "Mechanics"),
    ("Photo shoot", 30, "#9333ea", "Photographers"),
    ("Sales meeting", 60, "#2563eb", "Sales"),
];

/// Confirmed bookings of each working day: (job type, local start "HH:MM", members).
/// None is a hold: a demo left alone must not change by itself.
const DAY_PLAN: &[(&str, &str, u32)] = &[
    ("Test drive", "09:00", 1),
    ("Test drive", "10:30", 2),
    ("Inspection", "13:00", 1),
    ("Repair", "08:00", 2),
    ("Repair", "13:00", 1),
    ("Photo shoot", "11:00", 1),
    ("Photo shoot", "15:30", 1),
    ("Sales meeting", "09:00", 2),
];

/// Job types, working hours (Monday–Friday 08:00–17:00 in the organization's zone,
/// Saturday morning for Sales and Testers) and a week of bookings from tomorrow.
async fn seed_capacity(
    dir: &DirectoryHandle,
    org: &crate::org::OrgHandle,
    org_id: &cflows_protocol::OrgId,
    admin: &UserId,
    teams: &[cflows_protocol::TeamView],
) -> CoreResult<()> {
    use crate::domain::time;
    use crate::team_calendar::{Booker, BookingSpec, TeamCalendarHandle};
    let by = Caller::User(admin.clone());
    let mut job_types = Vec::new();
    for (name, minutes, colour, team) in JOB_TYPES {
        let j = org
            .create_job_type(
                by.clone(),
                crate::org::JobTypeInput {
                    name: (*name).into(),
                    duration_minutes: *minutes,
                    colour: (*colour).into(),
                },
            )
            .await?;
        job_types.push((j, *team));
    }
    let zone = org.settings().await?.timezone;
    let tz = time::zone(&zone)?;
    let booker = Booker {
        user: admin.clone(),
        name: "Alex Admin".into(),
        admin: true,
    };
    for team in teams {
        let cal = TeamCalendarHandle::new(dir.kernel(), org_id, &team.id);
        let mut hours = time::default_hours(&zone);
        if team.name == "Sales" || team.name == "Testers" {
            hours.weekly.push(cflows_protocol::WorkingPeriod {
                weekday: 6,
                start: "09:00".into(),
                end: "13:00".into(),
            });
        }
        cal.set_hours(booker.clone(), hours).await?;
    }
    let today = time::local(tz, chrono::Utc::now()).date();
    let mut day = today;
    let mut booked_days = 0;
    while booked_days < 5 {
        day += chrono::Duration::days(1);
        if chrono::Datelike::weekday(&day).number_from_monday() > 5 {
            continue;
        }
        booked_days += 1;
        for (job_name, start, members) in DAY_PLAN {
            let Some((job, team_name)) = job_types.iter().find(|(j, _)| j.name == *job_name) else {
                continue;
            };
            let Some(team) = teams.iter().find(|t| t.name == *team_name) else {
                continue;
            };
            let local =
                chrono::NaiveDateTime::parse_from_str(&format!("{day} {start}"), "%Y-%m-%d %H:%M")
                    .expect("demo times parse");
            let start = time::resolve(tz, local).timestamp_millis();
            let cal = TeamCalendarHandle::new(dir.kernel(), org_id, &team.id);
            let result = cal
                .hold(
                    booker.clone(),
                    BookingSpec {
                        job_type: job.id.clone(),
                        start,
                        end: crate::domain::capacity::booking_end(
                            start,
                            None,
                            job.duration_minutes,
                        )?,
                        members_required: (*members).min(team.bookable_count).max(1),
                        title: job.name.clone(),
                        confirm: true,
                        hold_ms: None,
                        waitlist: false,
                        assigned: Vec::new(),
                        work_item: None,
                        step: None,
                    },
                )
                .await;
            if let Err(e) = result {
                tracing::debug!(error = %e, "demo booking skipped");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Core, Store, StoreConfig};

    #[tokio::test]
    async fn seeding_twice_changes_nothing() {
        let store = Store::open(&StoreConfig::memory()).await.unwrap();
        store.migrate().await.unwrap();
        let core = Core::start(store.clone()).await.unwrap();
        let login = seed(&core.directory, "demo password 1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(login.email, DEMO_ADMIN_EMAIL);
        let events = store.count("event").await.unwrap();
        assert!(
            seed(&core.directory, "demo password 1")
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(store.count("event").await.unwrap(), events);
        let org = store.org_by_slug(DEMO_SLUG).await.unwrap().unwrap();
        let teams = store.teams_of_org(&org.id).await.unwrap();
        let names: Vec<_> = teams
            .iter()
            .map(|t| (t.name.as_str(), t.members.len(), t.bookable_count))
            .collect();
        assert_eq!(
            names,
            vec![
                ("Mechanics", 3, 3),
                ("Photographers", 1, 1),
                ("Sales", 2, 2),
                ("Testers", 2, 2)
            ]
        );
        assert_eq!(store.job_types_of_org(&org.id).await.unwrap().len(), 5);
        let mechanics = teams.iter().find(|t| t.name == "Mechanics").unwrap();
        let booked = store.live_bookings(&mechanics.id, 0).await.unwrap();
        assert_eq!(
            booked.len(),
            12,
            "two repairs a day for a working week, and two vehicles' repairs"
        );
        assert!(
            core.directory
                .authenticate(DEMO_ADMIN_EMAIL, "demo password 1")
                .await
                .unwrap()
                .is_some()
        );
    }

    /// Left alone, the demo changes nothing by itself (no hold runs out), and every
    /// vehicle not sold has a way on: a move it may make, or a step booking that, once
    /// done, moves it (bookable now, or confirmed and waiting to be marked done).
    #[tokio::test]
    async fn the_seeded_demo_has_no_hold_to_run_out_and_every_vehicle_can_move_on() {
        use crate::domain::workflow::{ItemFacts, advance};
        use cflows_protocol::BookingState;
        let store = Store::open(&StoreConfig::memory()).await.unwrap();
        store.migrate().await.unwrap();
        let core = Core::start(store.clone()).await.unwrap();
        seed(&core.directory, "demo password 1").await.unwrap();
        let org = store.org_by_slug(DEMO_SLUG).await.unwrap().unwrap();
        for team in store.teams_of_org(&org.id).await.unwrap() {
            for b in store.live_bookings(&team.id, 0).await.unwrap() {
                assert!(
                    matches!(b.state, BookingState::Confirmed | BookingState::Completed),
                    "{} on {} is {:?}: it would change by itself",
                    b.title,
                    team.name,
                    b.state
                );
            }
        }
        let org_id = cflows_protocol::OrgId::new(org.id.clone());
        let handle = core.directory.org(&org_id).await.unwrap();
        let workflow = handle.workflows().await.unwrap().remove(0);
        let board = crate::board::BoardHandle::new(core.directory.kernel(), &org_id, &workflow.id);
        let cards = board.snapshot().await.unwrap().cards;
        assert_eq!(cards.len(), VEHICLES.len());
        let mut waiting_for_a_booking = 0;
        for card in cards.iter().filter(|c| !c.done) {
            let step = workflow.steps.iter().find(|s| s.id == card.step).unwrap();
            let state = card.booking.as_ref().map(|b| b.state);
            let booking = if step.booking_job_type.is_some() {
                assert!(
                    matches!(state, None | Some(BookingState::Confirmed)),
                    "{} in {} has a booking {state:?}",
                    card.key,
                    step.name
                );
                waiting_for_a_booking += usize::from(state.is_none());
                // Booked now or later, then marked done.
                Some(BookingState::Completed)
            } else {
                None
            };
            let item =
                crate::work_item::WorkItemHandle::new(core.directory.kernel(), &org_id, &card.id)
                    .snapshot()
                    .await
                    .unwrap()
                    .item;
            let facts = ItemFacts {
                step: &card.step,
                data: &item.data,
                booking,
            };
            assert!(
                advance(&workflow.steps, &workflow.transitions, &facts).is_some(),
                "{} is stuck in {}",
                card.key,
                step.name
            );
        }
        assert_eq!(
            waiting_for_a_booking, 3,
            "one vehicle waits in each booking step"
        );
        // Test & Inspect has a way back without its booking.
        assert!(
            workflow
                .transitions
                .iter()
                .any(|t| t.from == "test" && t.back)
        );
    }
}
