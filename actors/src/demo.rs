//! The dealership demo: "Demo Motors" with its Sales, Testers, Mechanics and
//! Photographers teams. Idempotent: seeding twice changes nothing the second time.

use crate::directory::DirectoryHandle;
use crate::directory::new_user;
use crate::error::CoreResult;
use crate::org::{Caller, TeamInput};
use crate::{NewOrg, Owner};
use cflows_protocol::{ClockFormat, Role, UserId};

/// The demo organization's slug.
pub const DEMO_SLUG: &str = "demo-motors";
/// The demo admin's email.
pub const DEMO_ADMIN_EMAIL: &str = "admin@demo-motors.example";

/// The login printed after seeding.
#[derive(Clone, Debug)]
pub struct DemoLogin {
    pub email: String,
    pub password: String,
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
    for (name, description, colour, bookable) in TEAMS {
        let team_members: Vec<UserId> = members
            .iter()
            .filter(|(_, t)| t == name)
            .map(|(u, _)| u.clone())
            .collect();
        handle
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
                },
            )
            .await?;
    }
    Ok(Some(DemoLogin {
        email: DEMO_ADMIN_EMAIL.into(),
        password: password.into(),
    }))
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
        assert!(
            core.directory
                .authenticate(DEMO_ADMIN_EMAIL, "demo password 1")
                .await
                .unwrap()
                .is_some()
        );
    }
}
