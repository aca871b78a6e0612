//! The migration runner: applies the numbered `migrations/*.surql` files compiled into the
//! binary, in order, each in its own transaction with its record (name + SHA-256).
//!
//! An applied file is never applied again; one whose checksum changed stops start-up,
//! because the schema in the database no longer matches what the file says. Several
//! nodes may start at once on one database server: a file is applied by whichever commits
//! first, and the others, whose transaction was rolled back whole, read it as applied.

use super::{Store, StoreError, StoreResult};
use serde_json::json;
use sha2::{Digest, Sha256};

/// One migration file compiled into the binary.
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    /// The file name, e.g. `0001_init.surql`; the sort key.
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    /// Hex SHA-256 of the file's text.
    pub fn checksum(&self) -> String {
        hex::encode(Sha256::digest(self.sql.as_bytes()))
    }
}

/// Every migration, oldest first. Add a file here when you add one to `migrations/`.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        name: "0001_init.surql",
        sql: include_str!("../../../migrations/0001_init.surql"),
    },
    Migration {
        name: "0002_notifications.surql",
        sql: include_str!("../../../migrations/0002_notifications.surql"),
    },
    Migration {
        name: "0003_typed_journal.surql",
        sql: include_str!("../../../migrations/0003_typed_journal.surql"),
    },
    Migration {
        name: "0004_invitations.surql",
        sql: include_str!("../../../migrations/0004_invitations.surql"),
    },
    Migration {
        name: "0005_capacity.surql",
        sql: include_str!("../../../migrations/0005_capacity.surql"),
    },
    Migration {
        name: "0006_calendars.surql",
        sql: include_str!("../../../migrations/0006_calendars.surql"),
    },
    Migration {
        name: "0007_workflows.surql",
        sql: include_str!("../../../migrations/0007_workflows.surql"),
    },
    Migration {
        name: "0008_projects.surql",
        sql: include_str!("../../../migrations/0008_projects.surql"),
    },
    Migration {
        name: "0009_expired_holds.surql",
        sql: include_str!("../../../migrations/0009_expired_holds.surql"),
    },
    Migration {
        name: "0010_cluster.surql",
        sql: include_str!("../../../migrations/0010_cluster.surql"),
    },
    Migration {
        name: "0011_mail.surql",
        sql: include_str!("../../../migrations/0011_mail.surql"),
    },
    Migration {
        name: "0012_calendar_mail.surql",
        sql: include_str!("../../../migrations/0012_calendar_mail.surql"),
    },
];

/// What [`Store::migrate`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// Names applied by this run.
    pub applied: Vec<String>,
    /// Names that were already applied.
    pub already: Vec<String>,
}

/// How long a step that lost a race with another node's start is tried again: the
/// winner's transaction may take long to commit on a slow machine (a big migration, a
/// busy database), and a lost race is not a failure.
const RACE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// Waits before the next try of a step that lost a race (100 ms, doubling to 1 s);
/// `false` when `RACE_PATIENCE` has run out since `since`.
async fn pause_after_lost_race(since: std::time::Instant, tries: &mut u32) -> bool {
    if since.elapsed() >= RACE_PATIENCE {
        return false;
    }
    *tries += 1;
    let ms = (50u64 << (*tries).min(5)).min(1000);
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    true
}

/// An error another node's concurrent identical write can cause (not a broken file).
fn lost_a_race(e: &StoreError) -> bool {
    match e {
        StoreError::TxConflict(_) | StoreError::Duplicate(_) => true,
        StoreError::Db(msg) => msg.contains("already exists"),
        _ => false,
    }
}

/// Every applied migration must be one of ours, unchanged.
fn check_applied(applied: &[Applied], migrations: &[Migration]) -> StoreResult<()> {
    for done in applied {
        match migrations.iter().find(|m| m.name == done.name) {
            None => return Err(StoreError::UnknownMigration(done.name.clone())),
            Some(m) if m.checksum() != done.checksum => {
                return Err(StoreError::MigrationChanged {
                    name: m.name.to_string(),
                    applied: done.checksum.clone(),
                    current: m.checksum(),
                });
            }
            Some(_) => {}
        }
    }
    Ok(())
}

#[derive(serde::Deserialize)]
struct Applied {
    name: String,
    checksum: String,
}

const BOOKKEEPING: &str = "
DEFINE TABLE IF NOT EXISTS migration SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS name ON migration TYPE string;
DEFINE FIELD IF NOT EXISTS checksum ON migration TYPE string;
DEFINE FIELD IF NOT EXISTS applied_at ON migration TYPE datetime;
DEFINE INDEX IF NOT EXISTS migration_name ON migration FIELDS name UNIQUE;
";

impl Store {
    /// Applies the compiled-in migrations that the database lacks.
    ///
    /// # Errors
    /// An applied migration's checksum differs, the database knows a migration this binary
    /// does not, or a migration fails (then it is rolled back and start-up must stop).
    pub async fn migrate(&self) -> StoreResult<MigrationReport> {
        self.migrate_with(MIGRATIONS).await
    }

    /// [`Store::migrate`] with an explicit list (tests use it to simulate an edited file).
    ///
    /// # Errors
    /// As [`Store::migrate`].
    pub async fn migrate_with(&self, migrations: &[Migration]) -> StoreResult<MigrationReport> {
        // Nodes started at once race here: every step that loses to another node's
        // identical step reads what that node did and goes on.
        let since = std::time::Instant::now();
        let mut tries = 0;
        while let Err(e) = self.run(BOOKKEEPING, json!({})).await {
            if !lost_a_race(&e) || !pause_after_lost_race(since, &mut tries).await {
                return Err(e);
            }
        }
        let applied = self.applied_migrations().await?;
        check_applied(&applied, migrations)?;
        let mut report = MigrationReport::default();
        for m in migrations {
            if applied.iter().any(|a| a.name == m.name) {
                report.already.push(m.name.to_string());
                continue;
            }
            let body = format!(
                "{}\nCREATE migration CONTENT {{ name: $name, checksum: $checksum, applied_at: time::now() }};",
                m.sql
            );
            let (since, mut tries) = (std::time::Instant::now(), 0);
            loop {
                let Err(e) = self
                    .commit(
                        super::writes::apply_migration(&body, m.name, &m.checksum()),
                        &[],
                    )
                    .await
                else {
                    tracing::info!(migration = m.name, "applied migration");
                    report.applied.push(m.name.to_string());
                    break;
                };
                // Another node may have applied this file meanwhile (its transaction
                // won; ours was rolled back as a whole): then it is applied, not failed.
                let now = self.applied_migrations().await?;
                check_applied(&now, migrations)?;
                if now.iter().any(|a| a.name == m.name) {
                    tracing::info!(migration = m.name, "migration applied by another node");
                    report.already.push(m.name.to_string());
                    break;
                }
                if !lost_a_race(&e) || !pause_after_lost_race(since, &mut tries).await {
                    return Err(e);
                }
            }
        }
        Ok(report)
    }

    /// True when every compiled-in migration is applied with a matching checksum.
    ///
    /// # Errors
    /// The database cannot be queried.
    pub async fn migrations_current(&self) -> StoreResult<bool> {
        let applied = self.applied_migrations().await?;
        Ok(MIGRATIONS.iter().all(|m| {
            applied
                .iter()
                .any(|a| a.name == m.name && a.checksum == m.checksum())
        }))
    }

    async fn applied_migrations(&self) -> StoreResult<Vec<Applied>> {
        match self
            .rows(
                "SELECT name, checksum FROM migration ORDER BY name",
                json!({}),
            )
            .await
        {
            Ok(rows) => Ok(rows),
            // Before the first migration the table does not exist.
            Err(StoreError::Db(msg)) if msg.contains("does not exist") => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreConfig;

    #[tokio::test]
    async fn applies_once_and_refuses_an_edited_file() {
        let store = Store::open(&StoreConfig::memory()).await.unwrap();
        let first = store.migrate().await.unwrap();
        assert_eq!(
            first.applied,
            vec![
                "0001_init.surql",
                "0002_notifications.surql",
                "0003_typed_journal.surql",
                "0004_invitations.surql",
                "0005_capacity.surql",
                "0006_calendars.surql",
                "0007_workflows.surql",
                "0008_projects.surql",
                "0009_expired_holds.surql",
                "0010_cluster.surql",
                "0011_mail.surql",
                "0012_calendar_mail.surql",
            ]
        );
        assert!(store.migrations_current().await.unwrap());
        let second = store.migrate().await.unwrap();
        assert!(second.applied.is_empty());
        assert_eq!(
            second.already,
            MIGRATIONS.iter().map(|m| m.name).collect::<Vec<_>>()
        );

        let mut edited = MIGRATIONS.to_vec();
        edited[0] = Migration {
            name: "0001_init.surql",
            sql: "DEFINE TABLE other SCHEMALESS;",
        };
        let err = store.migrate_with(&edited).await.unwrap_err();
        assert!(matches!(err, StoreError::MigrationChanged { .. }), "{err}");
        assert!(err.to_string().contains("0001_init.surql"));
    }

    #[tokio::test]
    async fn refuses_a_database_newer_than_the_binary() {
        let store = Store::open(&StoreConfig::memory()).await.unwrap();
        store.migrate().await.unwrap();
        let err = store.migrate_with(&[]).await.unwrap_err();
        assert!(matches!(err, StoreError::UnknownMigration(_)), "{err}");
    }

    #[tokio::test]
    async fn a_failing_migration_leaves_nothing_behind() {
        let store = Store::open(&StoreConfig::memory()).await.unwrap();
        let broken = [Migration {
            name: "0001_broken.surql",
            sql: "DEFINE TABLE half SCHEMAFULL; THROW 'boom';",
        }];
        assert!(store.migrate_with(&broken).await.is_err());
        assert!(store.applied_migrations().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn stream_heads_of_older_journals_are_filled_in() {
        let store = Store::open(&StoreConfig::memory()).await.unwrap();
        store.migrate().await.unwrap();
        // Rows as a database before 0007 held them: no heads.
        store
            .tamper_for_tests(
                "CREATE event CONTENT { stream: 'org:o1', seq: 1, kind: 'x', payload: '{}', actor: NULL, at: time::now() };
                 CREATE event CONTENT { stream: 'org:o1', seq: 2, kind: 'x', payload: '{}', actor: NULL, at: time::now() };
                 CREATE event CONTENT { stream: 'team:t1', seq: 1, kind: 'x', payload: '{}', actor: NULL, at: time::now() };",
            )
            .await
            .unwrap();
        let org = cflows_protocol::StreamName::parse("org:o1").unwrap();
        assert_eq!(store.last_seq(&org).await.unwrap(), 0);
        let sql = MIGRATIONS[6].sql;
        let backfill = &sql[sql.find("FOR $row").unwrap()..];
        store.tamper_for_tests(backfill).await.unwrap();
        assert_eq!(store.last_seq(&org).await.unwrap(), 2);
        let team = cflows_protocol::StreamName::parse("team:t1").unwrap();
        assert_eq!(store.last_seq(&team).await.unwrap(), 1);
    }
}
