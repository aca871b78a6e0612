//! The integrity check behind `cflows check`: every stored value parses as what the
//! actors read, references between rows point at rows that exist, and every journal
//! stream is gap-free with payloads of its stream's kind.

use crate::kernel::decode_journal;
use crate::store::{Store, StoreResult};
use cflows_protocol::StreamName;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Finds every broken reference; an empty list means the store is consistent.
///
/// # Errors
/// The store cannot be read.
pub async fn integrity(store: &Store) -> StoreResult<Vec<String>> {
    let mut problems = store.undecodable_rows().await?;
    if !problems.is_empty() {
        // The typed reads below would stop at the first bad row.
        return Ok(problems);
    }
    let orgs: HashSet<String> = store.orgs().await?.into_iter().map(|o| o.id).collect();
    let users: HashSet<String> = store.all_users().await?.into_iter().map(|u| u.id).collect();
    let memberships = store.all_memberships().await?;
    let mut members_of: HashMap<&str, HashSet<&str>> = HashMap::new();
    for m in &memberships {
        if !orgs.contains(&m.org) {
            problems.push(format!(
                "membership of user {} points to missing organization {}",
                m.user, m.org
            ));
        }
        if !users.contains(&m.user) {
            problems.push(format!(
                "membership in organization {} points to missing user {}",
                m.org, m.user
            ));
        }
        members_of
            .entry(m.org.as_str())
            .or_default()
            .insert(m.user.as_str());
    }
    let teams = store.all_teams().await?;
    let team_org: HashMap<&str, &str> = teams
        .iter()
        .map(|t| (t.id.as_str(), t.org.as_str()))
        .collect();
    for t in &teams {
        let who = format!("team {} ({})", t.name, t.id);
        if !orgs.contains(&t.org) {
            problems.push(format!("{who} points to missing organization {}", t.org));
        }
        let org_members = members_of.get(t.org.as_str());
        for u in t.members.iter().chain(t.manager.iter()) {
            if !org_members.is_some_and(|s| s.contains(u.as_str())) {
                problems.push(format!(
                    "{who} lists {u}, who is not a member of its organization"
                ));
            }
        }
        if let Some(p) = &t.parent
            && team_org.get(p.as_str()) != Some(&t.org.as_str())
        {
            problems.push(format!(
                "{who} has parent {p}, which is not a team of the same organization"
            ));
        }
        if t.bookable_count as usize > t.members.len() {
            problems.push(format!(
                "{who} can book {} but has {} members",
                t.bookable_count,
                t.members.len()
            ));
        }
        if let Some(h) = t.reminder_hours
            && crate::domain::validate::reminder_hours(Some(h)).is_err()
        {
            problems.push(format!(
                "{who} reminds {h} hours before a booking (1 to 168 allowed)"
            ));
        }
    }
    let mut streams: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (stream, seq, payload) in store.journal_positions().await? {
        match StreamName::parse(&stream) {
            Ok(name) => {
                if let Err(e) = decode_journal(name.kind(), &payload) {
                    problems.push(format!("journal row {stream} #{seq} does not parse: {e}"));
                }
            }
            Err(e) => problems.push(format!("journal row with stream '{stream}': {e}")),
        }
        streams.entry(stream).or_default().push(seq);
    }
    for (stream, mut seqs) in streams {
        seqs.sort_unstable();
        if let Some((i, s)) = seqs.iter().enumerate().find(|(i, s)| **s != *i as u64 + 1) {
            problems.push(format!(
                "journal stream {stream} has a gap or duplicate at position {} (found {s})",
                i + 1
            ));
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreConfig;

    async fn store() -> Store {
        let store = Store::open(&StoreConfig::memory()).await.unwrap();
        store.migrate().await.unwrap();
        store
    }

    #[tokio::test]
    async fn finds_dangling_references_and_gaps() {
        let store = store().await;
        assert!(integrity(&store).await.unwrap().is_empty());
        store
            .tamper_for_tests(
                "CREATE membership CONTENT { org: 'ghost-org', user: 'ghost-user', role: 'member', active: true, title: '', location: '', timezone: '', avatar: '', bio: '', created_at: time::now() };
                 CREATE event CONTENT { stream: 'org:x', seq: 2, kind: 'member_removed', payload: '{\"kind\":\"member_removed\",\"user\":\"u\"}', actor: NULL, at: time::now() };",
            )
            .await
            .unwrap();
        let problems = integrity(&store).await.unwrap();
        assert_eq!(problems.len(), 3, "{problems:#?}");
    }

    #[tokio::test]
    async fn reports_stored_values_that_do_not_parse() {
        let store = store().await;
        store
            .tamper_for_tests(
                "CREATE notification:n1 CONTENT { user: 'u', org: 'o', kind: 'carrier_pigeon', title: 't', body: '', link: '/', entity_kind: NULL, entity_id: NULL, from: NULL, created_at: 1, updated_at: 1, count: 1, read: false };
                 CREATE event CONTENT { stream: 'inbox:u', seq: 1, kind: 'x', payload: '{\"kind\":\"member_removed\",\"user\":\"u\"}', actor: NULL, at: time::now() };",
            )
            .await
            .unwrap();
        let problems = integrity(&store).await.unwrap();
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(
            problems[0].contains("notification row n1") && problems[0].contains("carrier_pigeon"),
            "{problems:#?}"
        );
        // The typed read refuses it too: no silent default.
        assert!(store.notifications("u", None, 10).await.is_err());
        store
            .tamper_for_tests("DELETE notification:n1;")
            .await
            .unwrap();
        let problems = integrity(&store).await.unwrap();
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(
            problems[0].contains("inbox:u #1") && problems[0].contains("not a inbox event"),
            "{problems:#?}"
        );
    }

    #[tokio::test]
    async fn reads_the_tables_it_used_to_skip() {
        let store = store().await;
        // Working hours in a zone that does not exist, and a week with no days: the
        // team calendar could not load them.
        store
            .tamper_for_tests(
                "CREATE team_hours:t1 CONTENT { org: 'o', hours: { zone: 'Europe/Stockholm', weekly: 'weekdays' } };",
            )
            .await
            .unwrap();
        let problems = integrity(&store).await.unwrap();
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(
            problems[0].starts_with("team_hours row t1 does not parse"),
            "{problems:#?}"
        );
    }
}
